package io.kmem.stats;

/** A frame whose PFN is no longer the one recorded: the kernel migrated it. */
public record MovedFrame(long idx, long recordedPfn, long currentPfn) {
    @Override
    public String toString() {
        return "frame " + idx + ": pfn 0x" + Long.toHexString(recordedPfn) + " -> "
                + (currentPfn < 0 ? "not present" : "0x" + Long.toHexString(currentPfn));
    }
}
