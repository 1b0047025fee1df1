package io.kmem.internal.dma;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.internal.trace.RecentFrees;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The DMA side of a {@code struct device}: its two masks and, as the kernel's
 * {@code CONFIG_DMA_API_DEBUG} keeps them, the streaming mappings it holds, so that an unmap
 * or sync that does not match a map is caught and named.
 *
 * <p>A mask is the highest DMA address the device can reach ({@code DMA_BIT_MASK(n)} =
 * 2^n - 1). {@code dma_mask} bounds streaming mappings ({@code dma_map_single}),
 * {@code coherent_dma_mask} bounds {@code dma_alloc_coherent}. Both start at 32 bits, as the
 * PCI core sets them for every new device.
 *
 * <p>Thread safety: the masks are volatile; the mapping table is guarded by this object's
 * monitor, and an unmap records its mapping among the recent unmaps under it too, so that of
 * two unmaps of one mapping racing, the second finds the mapping live or recently unmapped
 * (a {@link DoubleFreeException}).
 */
public final class DeviceImpl {
    /** Kernel {@code enum dma_data_direction}. */
    public static final int DMA_BIDIRECTIONAL = 0;
    public static final int DMA_TO_DEVICE = 1;
    public static final int DMA_FROM_DEVICE = 2;
    public static final int DMA_NONE = 3;
    private static final int RECENT_UNMAPS = 64;
    private static final String[] DIRECTIONS = {"DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"};

    /** How a streaming mapping was made, for the "wrong function" check. */
    public enum MapKind { SINGLE, PAGE, SG }

    private record Mapping(long dma, long size, int dir, MapKind kind) {
    }

    private final String name;
    private volatile long dmaMask = DmaDirect.bitMask(32);
    private volatile long coherentMask = DmaDirect.bitMask(32);
    /** The device's IOMMU domain (a VFIO device), or null: DMA addresses are physical. */
    private volatile DmaTranslation translation;

    /** {@code dma_get_max_seg_size}: 64 KiB until set, as the PCI core sets it for every device. */
    private volatile long maxSegSize = 65536;
    private final TreeMap<Long, List<Mapping>> mappings = new TreeMap<>();
    /** The last unmaps (address, size), so that an unmap of one of them again is named a double free. */
    private final RecentFrees recentUnmaps = new RecentFrees(RECENT_UNMAPS);

    public DeviceImpl(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    public long dmaMask() {
        return dmaMask;
    }

    public long coherentMask() {
        return coherentMask;
    }

    /** The IOMMU domain the device's DMA addresses are IOVAs of, or null for physical addresses. */
    public DmaTranslation translation() {
        return translation;
    }

    /** Puts the device behind an IOMMU domain (null: back to physical addresses). */
    public void translation(DmaTranslation t) {
        this.translation = t;
    }

    public long maxSegSize() {
        return maxSegSize;
    }

    public void maxSegSize(long size) {
        this.maxSegSize = size;
    }

    void dmaMask(long mask) {
        this.dmaMask = mask;
    }

    void coherentMask(long mask) {
        this.coherentMask = mask;
    }

    /** The kernel's name for a direction value. */
    public static String direction(int dir) {
        return dir >= 0 && dir < DIRECTIONS.length ? DIRECTIONS[dir] : "direction " + dir;
    }

    /** Streaming mappings live now, each {dma, size, direction, MapKind ordinal}: for leak reports. */
    synchronized List<long[]> mappingsNow() {
        List<long[]> out = new ArrayList<>();
        for (List<Mapping> l : mappings.values()) {
            for (Mapping m : l) {
                out.add(new long[] {m.dma, m.size, m.dir, m.kind.ordinal()});
            }
        }
        return out;
    }

    /** Streaming mappings live now. */
    public synchronized int liveMappings() {
        int n = 0;
        for (List<Mapping> l : mappings.values()) {
            n += l.size();
        }
        return n;
    }

    /** The size of a live mapping at {@code dma}, or -1 when the device holds none there. */
    synchronized long mappedSize(long dma) {
        List<Mapping> l = mappings.get(dma);
        return l == null ? -1 : l.get(0).size;
    }

    synchronized void add(long dma, long size, int dir, MapKind kind) {
        mappings.computeIfAbsent(dma, k -> new ArrayList<>(1)).add(new Mapping(dma, size, dir, kind));
    }

    /**
     * Removes the mapping an unmap names, checked as DMA-API debugging checks it: address, size,
     * direction and the kind of map call must all match one live mapping.
     */
    synchronized void remove(String function, long dma, long size, int dir, MapKind kind) {
        List<Mapping> l = mappings.get(dma);
        if (l == null && recentUnmaps.contains(dma, size)) {
            throw new DoubleFreeException(String.format(Locale.ROOT, "%s(%s): device driver unmaps DMA memory twice"
                    + " [device address=0x%016x] [size=%d bytes] (unmapped already)", function, name, dma, size));
        }
        if (l == null) {
            throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver tries to free DMA memory it"
                    + " has not allocated [device address=0x%016x] [size=%d bytes] (never mapped, or unmapped already)",
                    function, name, dma, size));
        }
        for (int i = 0; i < l.size(); i++) {
            Mapping m = l.get(i);
            if (m.size == size && m.dir == dir && m.kind == kind) {
                l.remove(i);
                if (l.isEmpty()) {
                    mappings.remove(dma);
                }
                recentUnmaps.record(dma, size);
                return;
            }
        }
        Mapping m = l.get(0);
        String what = m.size != size
                ? String.format(Locale.ROOT, "with different size [map size=%d bytes] [unmap size=%d bytes]", m.size, size)
                : m.dir != dir ? "with different direction [mapped with " + direction(m.dir) + "] [unmapped with "
                        + direction(dir) + "]"
                : "with wrong function [mapped as " + m.kind.name().toLowerCase(Locale.ROOT) + "] [unmapped as "
                        + kind.name().toLowerCase(Locale.ROOT) + "]";
        throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver frees DMA memory %s [device"
                + " address=0x%016x]", function, name, what, dma));
    }

    /** Checks that {@code [dma, dma + size)} lies inside one live mapping of a compatible direction. */
    synchronized void checkSync(String function, long dma, long size, int dir) {
        Map.Entry<Long, List<Mapping>> e = mappings.floorEntry(dma);
        if (e != null) {
            for (Mapping m : e.getValue()) {
                if (dma + size <= m.dma + m.size) {
                    if (m.dir != dir && m.dir != DMA_BIDIRECTIONAL) {
                        throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver syncs DMA"
                                + " memory with different direction [device address=0x%016x] [mapped with %s] [synced"
                                + " with %s]", function, name, dma, direction(m.dir), direction(dir)));
                    }
                    return;
                }
            }
            Mapping m = e.getValue().get(0);
            if (dma < m.dma + m.size) {
                throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver syncs DMA memory outside"
                        + " allocated range [device address=0x%016x] [size=%d bytes] [mapping 0x%016x, %d bytes]",
                        function, name, dma, size, m.dma, m.size));
            }
        }
        throw new BadAddressException(String.format(Locale.ROOT, "%s(%s): device driver tries to sync DMA memory it has"
                + " not allocated [device address=0x%016x] [size=%d bytes]", function, name, dma, size));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (dma_mask 0x%x, coherent_dma_mask 0x%x)", name, dmaMask, coherentMask);
    }
}
