package io.kmem;

import io.kmem.error.BadAddressException;
import io.kmem.error.PoolClosedException;
import io.kmem.internal.dma.SgTableImpl;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A scatter-gather table: the kernel's {@code struct sg_table}, made by
 * {@link ScatterlistApi#sg_alloc_table} or {@link ScatterlistApi#sg_alloc_table_from_pages}
 * and freed by {@link ScatterlistApi#sg_free_table}. {@link #orig_nents()} entries describe the
 * buffer as the CPU sees it; after {@link DmaApi#dma_map_sgtable} {@link #nents()} of them carry
 * the DMA segments. The kernel's {@code for_each_sg} macros are {@code Iterable}s here:
 *
 * <pre>
 *   int n = pool.dma_map_sg(dev, sgt, sgt.orig_nents(), DMA_TO_DEVICE);
 *   for (Scatterlist sg : sgt.for_each_sg(n)) {
 *       ring.add(pool.sg_dma_address(sg), pool.sg_dma_len(sg));
 *   }
 * </pre>
 *
 * <p>The table lives on the Java heap (the kernel kmallocs it); it belongs to the pool that made
 * it. Every method throws {@link PoolClosedException} after the pool's close.
 */
public final class SgTable {
    final MemoryPool pool;
    final SgTableImpl impl;
    private final Scatterlist[] sgl;

    SgTable(MemoryPool pool, SgTableImpl impl) {
        this.pool = pool;
        this.impl = impl;
        this.sgl = new Scatterlist[impl.origNents()];
        for (int i = 0; i < sgl.length; i++) {
            sgl[i] = new Scatterlist(this, i);
        }
    }

    void live(String function) {
        pool.phys.ensureOpen(function);
        if (impl.freed()) {
            throw new BadAddressException(function + ": the sg_table was freed by sg_free_table");
        }
    }

    /**
     * {@code sgt->orig_nents}: the CPU-side entries.
     *
     * @return the entries the table was made with
     * @throws PoolClosedException after the pool's close
     */
    public int orig_nents() {
        live("orig_nents");
        return impl.origNents();
    }

    /**
     * {@code sgt->nents}: the DMA segments after {@link DmaApi#dma_map_sgtable}, else {@link #orig_nents()}.
     *
     * @return the mapped segments ({@code orig_nents} before a map)
     * @throws PoolClosedException after the pool's close
     */
    public int nents() {
        live("nents");
        return impl.nents();
    }

    /**
     * {@code sgt->sgl}: the first entry.
     *
     * @return entry 0
     * @throws PoolClosedException after the pool's close
     */
    public Scatterlist sgl() {
        live("sgl");
        return sgl[0];
    }

    /**
     * {@code sg_next} from the first entry {@code i} times: entry {@code i}.
     *
     * @param i 0 to {@code orig_nents - 1}
     * @return the entry
     * @throws IllegalArgumentException for an index outside the table
     * @throws PoolClosedException after the pool's close
     */
    public Scatterlist sg(int i) {
        live("sg");
        if (i < 0 || i >= sgl.length) {
            throw new IllegalArgumentException("sg(" + i + "): expected 0 to " + (sgl.length - 1));
        }
        return sgl[i];
    }

    /**
     * {@code for_each_sg(sgt->sgl, sg, nents, i)}: the first {@code nents} entries, in order:
     * after {@code dma_map_sg}, pass the count it returned to walk the DMA segments; pass
     * {@code orig_nents()} to walk the CPU side.
     *
     * @param nents how many entries, 0 to {@code orig_nents}
     * @return the entries, for a for-each loop (the iterator is the only allocation)
     * @throws IllegalArgumentException for a count outside the table
     * @throws PoolClosedException after the pool's close
     */
    public Iterable<Scatterlist> for_each_sg(int nents) {
        live("for_each_sg");
        if (nents < 0 || nents > sgl.length) {
            throw new IllegalArgumentException("for_each_sg(" + nents + "): expected 0 to the table's " + sgl.length
                    + " entries");
        }
        return () -> new Iterator<>() {
            private int i;

            @Override
            public boolean hasNext() {
                return i < nents;
            }

            @Override
            public Scatterlist next() {
                if (i >= nents) {
                    throw new NoSuchElementException("for_each_sg: " + nents + " entries walked");
                }
                return sgl[i++];
            }
        };
    }

    /**
     * {@code for_each_sgtable_sg}: every CPU-side entry ({@code orig_nents}).
     *
     * @return the entries, for a for-each loop
     * @throws PoolClosedException after the pool's close
     */
    public Iterable<Scatterlist> for_each_sgtable_sg() {
        live("for_each_sgtable_sg");
        return for_each_sg(impl.origNents());
    }

    /**
     * {@code for_each_sgtable_dma_sg}: every DMA segment ({@code nents}, after {@link DmaApi#dma_map_sgtable}).
     *
     * @return the entries that carry DMA segments, for a for-each loop
     * @throws PoolClosedException after the pool's close
     */
    public Iterable<Scatterlist> for_each_sgtable_dma_sg() {
        live("for_each_sgtable_dma_sg");
        return for_each_sg(impl.nents());
    }

    @Override
    public String toString() {
        return "SgTable[" + sgl.length + " entries, nents " + impl.nents() + (impl.freed() ? ", freed" : "")
                + (impl.mappedBy() != null ? ", mapped by " + impl.mappedBy().name() : "") + "]";
    }
}
