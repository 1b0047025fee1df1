package io.kmem.internal.dma;

import static io.kmem.testing.PropertySupport.actionWhen;
import static io.kmem.testing.PropertySupport.require;
import static io.kmem.testing.PropertySupport.runAndClose;
import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static io.kmem.gfp.Gfp.__GFP_NOWARN;

import io.kmem.Device;
import io.kmem.DmaPool;
import io.kmem.GfpApi;
import io.kmem.MemoryPool;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * dma_pool against a model, on real frames: jqwik {@link ActionChain}s of allocations and
 * frees in pools of random size, alignment and boundary, checked against a sorted map of the
 * live blocks (by DMA address).
 *
 * <h2>Labelled checks</h2>
 * Each failure message starts with the label of the check in brackets.
 * <ul>
 *   <li>On every block handed out: {@value #ALIGNED} (DMA and CPU address),
 *       {@value #BOUNDARY} (the boundary asked for; with none, the pool page's power-of-two
 *       block), {@value #DMA_IS_PHYS}, {@value #IN_MASK}, {@value #ZEROED} for
 *       zalloc; then a tag is written into the block's first and last 8 bytes.</li>
 *   <li>After every step: {@value #NO_OVERLAP}, {@value #ACTIVE} (the pool's count of blocks
 *       in use equals the model's), {@value #TAGS} (no block was written by another's
 *       allocation or free).</li>
 * </ul>
 */
class DmaPoolProperties {
    static final String ALIGNED = "block aligned to align";
    static final String BOUNDARY = "block does not cross a boundary";
    static final String DMA_IS_PHYS = "handle is the block's physical address";
    static final String IN_MASK = "block within the coherent mask";
    static final String ZEROED = "zalloc block is zero";
    static final String NO_OVERLAP = "no two live blocks overlap";
    static final String ACTIVE = "active blocks = model";
    static final String TAGS = "tags intact";

    /** One pool's parameters as given to dma_pool_create. */
    record Params(long size, long align, long boundary) {
    }

    @Property(tries = 40, seed = "20251125", afterFailure = AfterFailureMode.RANDOM_SEED,
            edgeCases = EdgeCasesMode.NONE)
    void blocksKeepAlignmentBoundaryAndTheirOwnBytes(@ForAll("chains") ActionChain<Model> chain) {
        chain.withInvariant(NO_OVERLAP, Model::checkNoOverlap)
                .withInvariant(ACTIVE, Model::checkActive)
                .withInvariant(TAGS, Model::checkTags);
        runAndClose(chain, Model::freeAll);
    }

    @Provide
    Arbitrary<ActionChain<Model>> chains() {
        Arbitrary<Long> align = Arbitraries.integers().between(0, 12).map(k -> k == 0 ? 0L : 1L << (k - 1));
        Arbitrary<Long> size = Arbitraries.longs().between(1, 6000);
        Arbitrary<Integer> boundaryShift = Arbitraries.integers().between(0, 14);
        Arbitrary<Params> params = Combinators.combine(size, align, boundaryShift).as((s, a, b) -> {
            long rounded = (Math.max(s, 16) + Math.max(a, 1) - 1) & -Math.max(a, 1);
            long boundary = b == 0 ? 0 : Long.highestOneBit(rounded) << (rounded == Long.highestOneBit(rounded) ? 0 : 1)
                    << (b % 3);
            return new Params(s, a, boundary);
        });
        return params.flatMap(p -> ActionChain.<Model>startWith(() -> new Model(p))
                .withAction(5, alloc())
                .withAction(3, free())
                .withMaxTransformations(80));
    }

    private static Action.Independent<Model> alloc() {
        return () -> Arbitraries.of(false, true).map(zero -> Transformer.mutate(
                zero ? "dma_pool_zalloc" : "dma_pool_alloc", m -> m.alloc(zero)));
    }

    private static Action.Independent<Model> free() {
        return actionWhen((Model m) -> !m.live.isEmpty(),
                Arbitraries.integers().between(0, 999).map(k -> Transformer.mutate("dma_pool_free(#" + k + ")",
                        m -> m.free(k))));
    }

    /** A live block: where it is, and the tag written into it. */
    record Block(long vaddr, long dma, long tag) {
    }

    static final class Model implements AutoCloseable {
        final Params params;
        final MemoryPool pool;
        final Device dev = new Device("prop");
        final DmaPool dmaPool;
        final TreeMap<Long, Block> live = new TreeMap<>();
        final List<Block> byAge = new ArrayList<>();
        final long mask;
        private final long[] handle = new long[1];
        private long nextTag = 1;

        Model(Params p) {
            this.params = p;
            this.pool = MemoryPool.builder().name("dmapool-props").smallPages(8L << 20).build();
            long[] pfns = pool.pfns();
            // A coherent mask that keeps most of the pool, so that pages come from below it too.
            this.mask = (pfns[pfns.length * 3 / 4] << 12) + 4095;
            pool.dma_set_coherent_mask(dev, mask);
            this.dmaPool = pool.dma_pool_create("props", dev, p.size, p.align, p.boundary);
        }

        void alloc(boolean zero) {
            long v = zero ? pool.dma_pool_zalloc(dmaPool, GFP_KERNEL | __GFP_NOWARN, handle)
                    : pool.dma_pool_alloc(dmaPool, GFP_KERNEL | __GFP_NOWARN, handle);
            if (v == 0) {
                return;
            }
            long dma = handle[0];
            long size = dmaPool.size();
            long align = Math.max(1, params.align);
            require(ALIGNED, dma % align == 0 && v % align == 0, "block 0x%x/0x%x, align %d", v, dma, align);
            // The boundary asked for, or with none the pool page (a power-of-two block of the buddy).
            long b = params.boundary != 0 ? params.boundary : 4096L << GfpApi.get_order(dmaPool.allocation());
            require(BOUNDARY, dma / b == (dma + size - 1) / b, "block 0x%x + %d crosses a multiple of %d", dma, size,
                    b);
            require(DMA_IS_PHYS, pool.virt_to_phys(v) == dma, "vaddr 0x%x is at 0x%x, handle 0x%x", v,
                    pool.virt_to_phys(v), dma);
            require(IN_MASK, Long.compareUnsigned(dma + size - 1, mask) <= 0, "block 0x%x + %d, mask 0x%x", dma, size,
                    mask);
            if (zero) {
                require(ZEROED, pool.segment(v, size).mismatch(MemorySegment.ofArray(new byte[(int) size])) == -1,
                        "block 0x%x", v);
            }
            long tag = nextTag++;
            pool.segment(v, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, tag);
            pool.segment(v + size - 8, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, ~tag);
            Block blk = new Block(v, dma, tag);
            live.put(dma, blk);
            byAge.add(blk);
        }

        void free(int k) {
            Block b = byAge.remove(k % byAge.size());
            live.remove(b.dma);
            pool.dma_pool_free(dmaPool, b.vaddr, b.dma);
        }

        void freeAll() {
            while (!byAge.isEmpty()) {
                free(0);
            }
            pool.dma_pool_destroy(dmaPool);
            require(ACTIVE, pool.takeDmaReports().isEmpty(), "destroy of an idle pool reported something");
        }

        void checkNoOverlap() {
            long end = Long.MIN_VALUE;
            for (Map.Entry<Long, Block> e : live.entrySet()) {
                require(NO_OVERLAP, e.getKey() > end, "block at 0x%x starts before 0x%x", e.getKey(), end);
                end = e.getKey() + dmaPool.size() - 1;
            }
        }

        void checkActive() {
            require(ACTIVE, dmaPool.active() == live.size(), "pool says %d, model %d", dmaPool.active(), live.size());
        }

        void checkTags() {
            for (Block b : live.values()) {
                long head = pool.segment(b.vaddr, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                long tail = pool.segment(b.vaddr + dmaPool.size() - 8, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                require(TAGS, head == b.tag && tail == ~b.tag, "block 0x%x holds %x/%x, expected %x", b.vaddr, head,
                        tail, b.tag);
            }
        }


        @Override
        public void close() {
            pool.close();
        }

        @Override
        public String toString() {
            return "dma_pool(" + params + " -> " + dmaPool + ", " + live.size() + " live)";
        }
    }
}
