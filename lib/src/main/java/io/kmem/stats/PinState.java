package io.kmem.stats;

/**
 * How a pool's frames are held in place.
 *
 * @param longTerm    true when every frame is pinned long-term ({@code FOLL_LONGTERM}, by
 *                    io_uring buffer registration): the kernel cannot migrate them and their
 *                    physical addresses stay valid; false when frames are only mlocked
 * @param reason      null when {@code longTerm}; else why frames are mlocked only (the
 *                    kernel's refusal and its fix, or the kind of pool)
 * @param pinnedBytes bytes pinned long-term now
 * @param rings       io_uring rings holding the pins (file descriptors the pool keeps open)
 */
public record PinState(boolean longTerm, String reason, long pinnedBytes, int rings) {

    /**
     * The state in one line, for reports and the tool.
     *
     * @return "long-term pin (N kB pinned by io_uring buffer registration, R rings)" or
     *         "mlock only (N kB pinned long-term): reason"
     */
    public String summary() {
        return longTerm
                ? "long-term pin (" + (pinnedBytes >> 10) + " kB pinned by io_uring buffer registration, " + rings
                  + (rings == 1 ? " ring)" : " rings)")
                : "mlock only (" + (pinnedBytes >> 10) + " kB pinned long-term): " + reason;
    }
}
