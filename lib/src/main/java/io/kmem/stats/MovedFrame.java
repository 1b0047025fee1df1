package io.kmem.stats;

/**
 * A frame whose PFN is no longer the one recorded: the kernel migrated it.
 *
 * @param idx         the pool's index of the frame
 * @param recordedPfn the PFN recorded when the frame came in
 * @param currentPfn  the PFN pagemap reports now, or -1 when the page is not present
 */
public record MovedFrame(long idx, long recordedPfn, long currentPfn) {
    @Override
    public String toString() {
        return "frame " + idx + ": pfn 0x" + Long.toHexString(recordedPfn) + " -> "
                + (currentPfn < 0 ? "not present" : "0x" + Long.toHexString(currentPfn));
    }
}
