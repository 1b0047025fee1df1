package io.kmem.error;

/**
 * A capability the request needs is missing: physical addresses without CAP_SYS_ADMIN,
 * hugepages that are not reserved, a pool built without physical addresses asked for one.
 * The message says what to do.
 */
public final class PrivilegeException extends KmemException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with the message the caller reads.
     *
     * @param message what needs the privilege and what to do
     */
    public PrivilegeException(String message) {
        super(message);
    }
}
