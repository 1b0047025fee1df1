package io.kmem.error;

/**
 * Base of every exception kmem throws. Running out of memory is not one of them: an
 * allocation that cannot be served returns NULL (0 or {@code MemorySegment.NULL}), as in the
 * kernel. An exception means a bug in the caller (misuse), a missing privilege, or a failed
 * system call; its message names the function, the address and what was expected.
 */
public class KmemException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with the message the caller reads.
     *
     * @param message what was called, with which value, and what was expected
     */
    public KmemException(String message) {
        super(message);
    }

    /**
     * An exception with a message and the exception that caused it.
     *
     * @param message what was called, with which value, and what went wrong
     * @param cause   the underlying exception (a constructor's, an I/O error)
     */
    public KmemException(String message, Throwable cause) {
        super(message, cause);
    }
}
