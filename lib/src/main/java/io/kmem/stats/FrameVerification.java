package io.kmem.stats;

import java.util.List;

/**
 * What {@code MemoryPool.verify()} found: every frame's PFN read again from pagemap and
 * compared with the one recorded at bring-up.
 *
 * @param framesChecked frames whose PFN was read again
 * @param moved         the frames whose PFN changed (the kernel migrated them); empty when all is well
 * @param nanos         how long the check took
 */
public record FrameVerification(long framesChecked, List<MovedFrame> moved, long nanos) {
    /**
     * Whether no frame moved.
     *
     * @return true when {@link #moved()} is empty
     */
    public boolean ok() {
        return moved.isEmpty();
    }
}
