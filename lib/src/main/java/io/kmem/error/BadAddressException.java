package io.kmem.error;

/**
 * An address, PFN or page handle that the pool did not hand out, lies outside it, or is
 * misaligned for the call. The pool is unchanged.
 */
public class BadAddressException extends KmemException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with the message the caller reads.
     *
     * @param message what was called, with which value, and what was expected
     */
    public BadAddressException(String message) {
        super(message);
    }
}
