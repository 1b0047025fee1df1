package io.kmem.gfp;

/**
 * The kernel's physical zones on x86-64, decided by a frame's physical address alone.
 * Allocations fall back from NORMAL to DMA32 to DMA; {@code __GFP_DMA} takes only DMA and
 * {@code __GFP_DMA32} takes DMA32 and DMA.
 */
public enum ZoneType {
    /** Below 16 MiB: ISA-era devices with 24-bit DMA. */
    DMA(1L << 24),
    /** Below 4 GiB: devices with 32-bit DMA masks. */
    DMA32(1L << 32),
    /** Everything above. */
    NORMAL(Long.MAX_VALUE);

    /** 4 KiB pages, as io.kmem.internal.phys.PhysLayout (this package depends on no other). */
    private static final int PAGE_SHIFT = 12;
    private static final ZoneType[] VALUES = values();
    private final long limit;

    ZoneType(long limit) {
        this.limit = limit;
    }

    /**
     * One past the highest physical address this zone covers.
     *
     * @return 16 MiB, 4 GiB, or {@code Long.MAX_VALUE} for NORMAL
     */
    public long limit() {
        return limit;
    }

    /**
     * The zone of a frame at {@code pfn}.
     *
     * @param pfn a physical frame number
     * @return the zone its physical address falls in
     */
    public static ZoneType of(long pfn) {
        long phys = pfn << PAGE_SHIFT;
        return phys < DMA.limit ? DMA : phys < DMA32.limit ? DMA32 : NORMAL;
    }

    /**
     * The zone by ordinal, without allocating {@code values()}.
     *
     * @param ordinal 0 (DMA), 1 (DMA32) or 2 (NORMAL)
     * @return that zone
     * @throws ArrayIndexOutOfBoundsException for any other ordinal
     */
    public static ZoneType of(int ordinal) {
        return VALUES[ordinal];
    }

    /**
     * The kernel's spelling in /proc/zoneinfo and /proc/buddyinfo.
     *
     * @return "DMA", "DMA32" or "Normal"
     */
    public String procName() {
        return this == NORMAL ? "Normal" : name();
    }
}
