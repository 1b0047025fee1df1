package io.kmem.error;

/**
 * A block or object freed when it is already free. The allocator detected it before
 * changing anything and stays consistent.
 */
public final class DoubleFreeException extends KmemException {
    private static final long serialVersionUID = 1L;

    public DoubleFreeException(String message) {
        super(message);
    }
}
