package io.kmem.error;

/** A call on a pool after {@code close()}. */
public final class PoolClosedException extends KmemException {
    private static final long serialVersionUID = 1L;

    public PoolClosedException(String message) {
        super(message);
    }
}
