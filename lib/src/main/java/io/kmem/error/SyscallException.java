package io.kmem.error;


/**
 * A system call failed. The message names the call and its key arguments, errno with its
 * symbolic name and {@code strerror} text, and, where one applies, a hint at the fix:
 *
 * <pre>{@code
 * mmap(len=1073741824, prot=PROT_READ|PROT_WRITE, flags=MAP_SHARED|MAP_LOCKED, fd=7): errno 11 EAGAIN
 *     (Resource temporarily unavailable); hint: raise RLIMIT_MEMLOCK (ulimit -l unlimited; now 8388608
 *     bytes) or run as root
 * }</pre>
 *
 * Only the internal system-call layer throws it.
 */
public final class SyscallException extends KmemException {
    private static final long serialVersionUID = 1L;

    /** The C name of the failed call. */
    private final String call;
    /** The errno the call left. */
    private final int errno;
    /** The symbolic name of {@link #errno}. */
    private final String errnoName;

    /**
     * A failed call.
     *
     * @param call      the C name of the call, e.g. "mmap"
     * @param errno     the errno it left, e.g. 12
     * @param errnoName errno's symbolic name, e.g. "ENOMEM"
     * @param message   the call with its key arguments, errno, strerror and a hint at the fix
     */
    public SyscallException(String call, int errno, String errnoName, String message) {
        super(message);
        this.call = call;
        this.errno = errno;
        this.errnoName = errnoName;
    }

    /** {@return the C name of the failed call, e.g. {@code "mmap"}} */
    public String call() {
        return call;
    }

    /** {@return the errno the call left, e.g. 12} */
    public int errno() {
        return errno;
    }

    /** {@return the symbolic name of {@link #errno()}, e.g. {@code "ENOMEM"}} */
    public String errnoName() {
        return errnoName;
    }
}
