package io.kmem;

import io.kmem.error.PoolClosedException;

/**
 * One entry of an {@link SgTable}: the kernel's {@code struct scatterlist}. On the CPU side a
 * run of physically contiguous bytes ({@link ScatterlistApi#sg_page}, {@link #offset()},
 * {@link #length()}); after {@link DmaApi#dma_map_sg} the first entries also carry the DMA
 * segments the device is given ({@link ScatterlistApi#sg_dma_address},
 * {@link ScatterlistApi#sg_dma_len}). An entry is a view of its table: it allocates nothing and
 * its values are the table's.
 */
public final class Scatterlist {
    final SgTable table;
    final int index;

    Scatterlist(SgTable table, int index) {
        this.table = table;
        this.index = index;
    }

    /**
     * {@code sg->offset}: where the entry's bytes start in its first page.
     *
     * @return bytes from the start of {@code sg_page(sg)}
     * @throws PoolClosedException after the pool's close
     */
    public int offset() {
        table.live("offset");
        return table.impl.offset(index);
    }

    /**
     * {@code sg->length}: the entry's bytes on the CPU side (0 until set).
     *
     * @return the length in bytes
     * @throws PoolClosedException after the pool's close
     */
    public int length() {
        table.live("length");
        return table.impl.length(index);
    }

    /**
     * The entry's position in its table (what {@code sg_next} walks).
     *
     * @return 0 for {@code sgt->sgl}, up to {@code orig_nents - 1}
     * @throws PoolClosedException after the pool's close
     */
    public int index() {
        table.live("index");
        return index;
    }

    @Override
    public String toString() {
        return String.format("Scatterlist[%d: pfn 0x%x +%d, %d bytes; dma 0x%x, %d bytes]", index,
                table.impl.pfn(index), table.impl.offset(index), table.impl.length(index),
                table.impl.dmaAddress(index), table.impl.dmaLength(index));
    }
}
