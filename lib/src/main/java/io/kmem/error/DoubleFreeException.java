package io.kmem.error;

/**
 * A block or object freed when it is already free. The allocator detected it before
 * changing anything and stays consistent.
 */
public final class DoubleFreeException extends KmemException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with the message the caller reads.
     *
     * @param message what was called, with which value, and what was expected
     */
    public DoubleFreeException(String message) {
        super(message);
    }
}
