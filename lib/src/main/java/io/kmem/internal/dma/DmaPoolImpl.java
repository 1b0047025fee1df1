package io.kmem.internal.dma;

import static io.kmem.gfp.Gfp.__GFP_ZERO;

import io.kmem.error.BadAddressException;
import io.kmem.error.DoubleFreeException;
import io.kmem.error.KmemException;
import io.kmem.internal.phys.PhysLayout;
import io.kmem.stats.LiveAllocation;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A {@code dma_pool} ({@code mm/dmapool.c}): small, equal blocks of coherent DMA memory for
 * descriptors and command buffers, carved from pages of {@code dma_alloc_coherent}.
 *
 * <h2>Notation</h2>
 * <ul>
 *   <li><b>size</b>: bytes of a block, the size asked for rounded up to at least 16 bytes
 *       (the kernel's {@code struct dma_block}) and to a multiple of {@code align}.</li>
 *   <li><b>allocation</b>: bytes of a pool page, {@code max(size, PAGE_SIZE)}, one
 *       {@code dma_alloc_coherent} (so within the device's coherent mask).</li>
 *   <li><b>boundary</b>: a power of two no block may cross (a device that cannot cross 4 KiB
 *       in one descriptor says 4096); 0 means the allocation. At most the allocation.</li>
 * </ul>
 *
 * <pre>
 *  size 96 (align 32), allocation 4096, boundary 1024:
 *  offset 0      96     192 ...    864     960  1024   1120 ...
 *         [ b0  ][ b1  ] ... [ b9  ] (gap: b10 would cross 1024) [ b10 ][ b11 ] ...
 * </pre>
 *
 * <h2>Carving ({@code pool_initialise_page})</h2>
 * Blocks follow each other from offset 0; a block that would end past the next boundary
 * starts at that boundary instead. Every offset is then a multiple of {@code align} (size and
 * boundary are), and no block crosses a boundary. The offsets are the same in every page, so
 * they are computed once ({@link #offsets}).
 *
 * <h2>Alloc and free</h2>
 * Pages with a free block are kept in a queue; a page holds a stack of its free block
 * numbers and a state byte per block (free / in use). Alloc pops a block of the first such
 * page, or takes a new page from {@code dma_alloc_coherent} outside the lock (it may wait).
 * Free finds the page by address, the block by binary search of the offsets, and checks the
 * block's DMA address and state: a free that names no block, the wrong DMA address or a block
 * already free throws before anything changes.
 *
 * <h2>Destroy</h2>
 * With no block in use every page goes back. With blocks in use the kernel says
 * "dma_pool_destroy ... busy" and leaks the pages; so does kmem, with one report line per live
 * block.
 *
 * <p>Thread safety: the pool's state is guarded by its monitor.
 */
public final class DmaPoolImpl {
    /** {@code sizeof(struct dma_block)}: the smallest block. */
    static final long MIN_BLOCK = 16;

    private static final class Page {
        final long cpu;
        final long dma;
        final int[] free;
        final byte[] used;
        int nfree;

        Page(long cpu, long dma, int blocks) {
            this.cpu = cpu;
            this.dma = dma;
            this.free = new int[blocks];
            this.used = new byte[blocks];
            for (int i = 0; i < blocks; i++) {
                free[i] = blocks - 1 - i;
            }
            this.nfree = blocks;
        }
    }

    private final DmaDirect dma;
    private final DeviceImpl dev;
    private final String name;
    private final long size;
    private final long align;
    private final long boundary;
    private final long allocation;
    private final long[] offsets;
    private final TreeMap<Long, Page> pages = new TreeMap<>();
    private final ArrayDeque<Page> available = new ArrayDeque<>();
    private long active;
    private boolean destroyed;

    private DmaPoolImpl(DmaDirect dma, DeviceImpl dev, String name, long size, long align, long boundary,
                             long allocation) {
        this.dma = dma;
        this.dev = dev;
        this.name = name;
        this.size = size;
        this.align = align;
        this.boundary = boundary;
        this.allocation = allocation;
        this.offsets = offsets(size, boundary, allocation);
    }

    /**
     * {@code dma_pool_create}. Where the kernel returns NULL for bad arguments, this throws.
     *
     * @throws IllegalArgumentException for no device, a size of 0 or above INT_MAX, an
     *         alignment that is not 0 or a power of two, a boundary that is not 0 or a power of
     *         two at least the (rounded) size
     */
    public static DmaPoolImpl create(DmaDirect dma, String name, DeviceImpl dev, long size, long align,
                                          long boundary) {
        String fn = "dma_pool_create(" + name + ")";
        if (dev == null) {
            throw new IllegalArgumentException(fn + ": a DMA pool needs a device");
        }
        if (align == 0) {
            align = 1;
        } else if (align < 0 || (align & (align - 1)) != 0) {
            throw new IllegalArgumentException(fn + ": align " + align + " is not a power of two");
        }
        if (size <= 0 || size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(fn + ": size " + size + " is not between 1 and INT_MAX");
        }
        size = Math.max(size, MIN_BLOCK);
        size = (size + align - 1) & -align;
        long allocation = Math.max(size, PhysLayout.PAGE_SIZE);
        if (boundary == 0) {
            boundary = allocation;
        } else if (boundary < size || (boundary & (boundary - 1)) != 0) {
            throw new IllegalArgumentException(fn + ": boundary " + boundary + " is not a power of two of at least the"
                    + " block size " + size);
        }
        boundary = Math.min(boundary, allocation);
        DmaPoolImpl pool = new DmaPoolImpl(dma, dev, name, size, align, boundary, allocation);
        dma.register(pool);
        return pool;
    }

    /** The block offsets of a page, as {@code pool_initialise_page} carves them. */
    static long[] offsets(long size, long boundary, long allocation) {
        List<Long> out = new ArrayList<>();
        long next = boundary;
        long offset = 0;
        while (offset + size <= allocation) {
            if (offset + size > next) {
                offset = next;
                next += boundary;
                continue;
            }
            out.add(offset);
            offset += size;
        }
        long[] a = new long[out.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = out.get(i);
        }
        return a;
    }

    /**
     * {@code dma_pool_alloc} ({@code zero}: {@code dma_pool_zalloc}): a block's CPU address, its
     * DMA address in {@code handle[0]}; 0 (NULL) when no page can be had.
     *
     * @throws KmemException after {@code dma_pool_destroy}
     */
    public long alloc(int gfp, long[] handle, boolean zero) {
        if (handle == null || handle.length < 1) {
            throw new IllegalArgumentException("dma_pool_alloc(" + name + "): expected an array of at least one element"
                    + " for the DMA handle");
        }
        synchronized (this) {
            ensureLive("dma_pool_alloc");
            long v = popLocked(handle);
            if (v != 0) {
                return zero ? zeroed(v) : v;
            }
        }
        long cpu = dma.allocCoherent(dev, allocation, gfp & ~__GFP_ZERO);
        if (cpu == 0) {
            return 0;
        }
        dma.claim(cpu, "dma_pool " + name);
        Page p = new Page(cpu, dma.dmaAddress(dev, cpu), offsets.length);
        synchronized (this) {
            if (destroyed) {
                dma.freeCoherent(dev, allocation, p.cpu, p.dma);
                ensureLive("dma_pool_alloc");
            }
            pages.put(p.cpu, p);
            available.addFirst(p);
            long v = popLocked(handle);
            return zero ? zeroed(v) : v;
        }
    }

    private long popLocked(long[] handle) {
        Page p = available.peekFirst();
        if (p == null) {
            return 0;
        }
        int k = p.free[--p.nfree];
        p.used[k] = 1;
        if (p.nfree == 0) {
            available.pollFirst();
        }
        active++;
        handle[0] = p.dma + offsets[k];
        return p.cpu + offsets[k];
    }

    private long zeroed(long v) {
        var fp = dma.phys();
        fp.directMap().asSlice(v - fp.directBase(), size).fill((byte) 0);
        return v;
    }

    /**
     * {@code dma_pool_free}.
     *
     * @throws BadAddressException when {@code vaddr} is not a block of this pool, or {@code dmaAddr}
     *         is not that block's DMA address
     * @throws DoubleFreeException when the block is free already
     * @throws KmemException after {@code dma_pool_destroy}
     */
    public synchronized void free(long vaddr, long dmaAddr) {
        ensureLive("dma_pool_free");
        Map.Entry<Long, Page> e = pages.floorEntry(vaddr);
        if (e == null || vaddr >= e.getKey() + allocation) {
            throw new BadAddressException(String.format(Locale.ROOT, "dma_pool_free %s, 0x%x/0x%x (bad vaddr): not in a"
                    + " page of the pool", name, vaddr, dmaAddr));
        }
        Page p = e.getValue();
        long off = vaddr - p.cpu;
        int k = Arrays.binarySearch(offsets, off);
        if (k < 0) {
            int before = -k - 2;
            throw new BadAddressException(String.format(Locale.ROOT, "dma_pool_free %s, 0x%x/0x%x (bad vaddr): %s",
                    name, vaddr, dmaAddr, before >= 0 && off < offsets[before] + size
                            ? "inside block " + before + ", at offset " + (off - offsets[before]) + " of its " + size
                            + " bytes; expected the block's start"
                            : "in a gap between blocks (a boundary), not a block"));
        }
        if (dmaAddr != p.dma + off) {
            throw new BadAddressException(String.format(Locale.ROOT, "dma_pool_free %s, 0x%x/0x%x (bad dma): the block's"
                    + " DMA address is 0x%x", name, vaddr, dmaAddr, p.dma + off));
        }
        if (p.used[k] == 0) {
            throw new DoubleFreeException(String.format(Locale.ROOT, "dma_pool_free %s, dma 0x%x already free (block %d"
                    + " of the page at 0x%x)", name, dmaAddr, k, p.cpu));
        }
        p.used[k] = 0;
        if (p.nfree == 0) {
            available.addLast(p);
        }
        p.free[p.nfree++] = k;
        active--;
    }

    /**
     * {@code dma_pool_destroy}: gives every page back, or, with blocks still in use, reports
     * each (through {@link DmaDirect#takeReports}) and leaks the pages as the kernel does.
     * Returns the report lines (empty when the pool was idle).
     *
     * @throws KmemException when it was destroyed already
     */
    public List<String> destroy() {
        List<Page> all;
        List<String> lines = new ArrayList<>();
        dma.unregister(this);
        synchronized (this) {
            ensureLive("dma_pool_destroy");
            destroyed = true;
            all = new ArrayList<>(pages.values());
            if (active > 0) {
                lines.add(String.format(Locale.ROOT, "dma_pool_destroy %s %s busy: %d blocks still allocated, its %d"
                        + " pages leaked", dev.name(), name, active, all.size()));
                for (Page p : all) {
                    for (int k = 0; k < offsets.length; k++) {
                        if (p.used[k] != 0) {
                            lines.add(String.format(Locale.ROOT, "  block 0x%x (dma 0x%x) of %d bytes", p.cpu + offsets[k],
                                    p.dma + offsets[k], size));
                        }
                    }
                }
            }
            pages.clear();
            available.clear();
        }
        if (!lines.isEmpty()) {
            dma.report(String.join("\n", lines));
            return lines;
        }
        for (Page p : all) {
            dma.freeCoherent(dev, allocation, p.cpu, p.dma);
        }
        return lines;
    }

    /** Adds each block in use to {@code out} and each page's CPU address to {@code pageCpus}: for leak reports. */
    synchronized void liveBlocks(List<LiveAllocation> out, Set<Long> pageCpus) {
        for (Page p : pages.values()) {
            pageCpus.add(p.cpu);
            for (int k = 0; k < offsets.length; k++) {
                if (p.used[k] != 0) {
                    out.add(new LiveAllocation(LiveAllocation.Kind.DMA_POOL_BLOCK, "dma_pool_alloc", String.format(
                            Locale.ROOT, "dma_pool %s of %s, dma 0x%x", name, dev.name(), p.dma + offsets[k]),
                            p.cpu + offsets[k], size, null));
                }
            }
        }
    }

    private void ensureLive(String function) {
        if (destroyed) {
            throw new KmemException(function + "(" + name + "): the pool was destroyed by dma_pool_destroy");
        }
    }

    public String name() {
        return name;
    }

    public DeviceImpl device() {
        return dev;
    }

    /** Bytes of each block (the size asked for, rounded up). */
    public long size() {
        return size;
    }

    public long align() {
        return align;
    }

    public long boundary() {
        return boundary;
    }

    /** Bytes of each pool page. */
    public long allocation() {
        return allocation;
    }

    /** Blocks in one pool page. */
    public int blocksPerPage() {
        return offsets.length;
    }

    /** Blocks in use. */
    public synchronized long active() {
        return active;
    }

    /** Pool pages held. */
    public synchronized int pages() {
        return pages.size();
    }
}
