package io.kmem.error;

/**
 * A {@code request_mem_region} or {@code request_region} whose range overlaps a region that is
 * already taken (the kernel's {@code -EBUSY}). The message names both ranges and both owners;
 * the tree is unchanged.
 */
public final class ResourceBusyException extends KmemException {
    private static final long serialVersionUID = 1L;

    /** The first address of the region in the way. */
    private final long conflictStart;
    /** The last address (inclusive) of the region in the way. */
    private final long conflictEnd;
    /** The name of the region in the way. */
    private final String conflictName;

    /**
     * A refused request.
     *
     * @param message       the request, the region in the way and both owners
     * @param conflictStart the first address of the region in the way
     * @param conflictEnd   the last address (inclusive) of the region in the way
     * @param conflictName  the name of the region in the way, as /proc/iomem shows it
     */
    public ResourceBusyException(String message, long conflictStart, long conflictEnd, String conflictName) {
        super(message);
        this.conflictStart = conflictStart;
        this.conflictEnd = conflictEnd;
        this.conflictName = conflictName;
    }

    /** {@return the first address of the region in the way} */
    public long conflictStart() {
        return conflictStart;
    }

    /** {@return the last address (inclusive) of the region in the way} */
    public long conflictEnd() {
        return conflictEnd;
    }

    /** {@return the name of the region in the way, as /proc/iomem shows it} */
    public String conflictName() {
        return conflictName;
    }
}
