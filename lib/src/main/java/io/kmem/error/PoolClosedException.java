package io.kmem.error;

/** A call on a pool after {@code close()}. */
public final class PoolClosedException extends KmemException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with the message the caller reads.
     *
     * @param message the function called and the closed pool's name
     */
    public PoolClosedException(String message) {
        super(message);
    }
}
