package io.kmem;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.BadAddressException;
import io.kmem.error.PoolClosedException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ring accessors ({@link RwOnceApi}) on a coherent buffer, by pool address and on a
 * segment: a spin loop on READ_ONCE sees another thread's store (where a plain load may be
 * hoisted and spin forever), values land little-endian at their width, misuse is named, and
 * no access allocates.
 */
class RingAccessTest {
    /** Spins of the polling loop before it gives up: far more than a hoisted-free loop needs, finite. */
    private static final long SPINS = 20_000_000_000L;

    private MemoryPool pool;
    private Device dev;
    private DmaBuffer buf;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("ring").smallPages(8L << 20).build();
        dev = new Device("ring0");
        assertEquals(0, pool.dma_set_mask_and_coherent(dev, DmaApi.DMA_BIT_MASK(64)));
        buf = pool.dma_alloc_coherent(dev, 8192, GFP_KERNEL);
        assertTrue(buf != null, "a coherent buffer");
    }

    @AfterEach
    void tearDown() {
        pool.close();
    }

    /**
     * A thread spins on the accessor in a loop with nothing else in it (the shape the JIT may
     * hoist a plain load out of) and stops at the first non-zero value or after {@link #SPINS}
     * reads. The main thread stores the value only after the spinner has run long enough to
     * be compiled. The spinner must report the value; a hoisted load would spin the count out
     * and report 0. The count ends the loop either way, so a failure fails and never hangs.
     */
    private static void spinSees(String what, LongUnaryOperator read, Runnable store) throws Exception {
        long[] result = {-1, -1};
        CountDownLatch started = new CountDownLatch(1);
        Thread spinner = Thread.ofPlatform().daemon().start(() -> {
            started.countDown();
            long i = 0;
            long v;
            while ((v = read.applyAsLong(0)) == 0 && ++i != SPINS) {
                // nothing: a loop without a store or a call the JIT cannot see through
            }
            result[0] = v;
            result[1] = i;
        });
        started.await();
        Thread.sleep(300); // lets C2 compile the loop (OSR) before the store; not a timing assertion
        store.run();
        spinner.join(TimeUnit.MINUTES.toMillis(2));
        assertTrue(!spinner.isAlive(), what + ": the spinner neither saw the store nor ran out its count");
        assertEquals(0x5eed, result[0], what + ": the spin loop never saw the store (" + result[1] + " reads)");
    }

    @Test
    void aSpinLoopOnReadOnceSeesAStoreFromAnotherThread() throws Exception {
        spinSees("DmaBuffer.READ_ONCE_u32", a -> buf.READ_ONCE_u32(64), () -> buf.WRITE_ONCE_u32(64, 0x5eed));
        long k = pool.kmalloc(64, GFP_KERNEL);
        pool.segment(k, 64).fill((byte) 0);
        spinSees("pool.smp_load_acquire_u64", a -> pool.smp_load_acquire_u64(k + 8),
                () -> pool.smp_store_release_u64(k + 8, 0x5eed));
        long v = pool.vmalloc(3 * 4096);
        MemorySegment vs = pool.segment(v, 3 * 4096);
        spinSees("RwOnceApi.READ_ONCE_u16(segment)", a -> RwOnceApi.READ_ONCE_u16(vs, 8190),
                () -> RwOnceApi.WRITE_ONCE_u16(vs, 8190, 0x5eed));
    }

    @Test
    void valuesLandLittleEndianAtTheirWidth() {
        buf.WRITE_ONCE_u8(0, 0x1ab);
        buf.WRITE_ONCE_u16(2, 0x1c0de);
        buf.smp_store_release_u32(4, 0x11223344);
        buf.smp_store_release_u64(8, 0x0102030405060708L);
        HexFormat h = HexFormat.ofDelimiter(" ");
        assertEquals("ab 00 de c0 44 33 22 11 08 07 06 05 04 03 02 01",
                h.formatHex(buf.segment().asSlice(0, 16).toArray(ValueLayout.JAVA_BYTE)));
        assertEquals(0xab, buf.READ_ONCE_u8(0));
        assertEquals(0xc0de, buf.smp_load_acquire_u16(2));
        assertEquals(0x11223344, buf.READ_ONCE_u32(4));
        assertEquals(0x0102030405060708L, buf.smp_load_acquire_u64(8));
        buf.WRITE_ONCE_u32(16, 0xfffffff0);
        assertEquals(0xfffffff0, pool.READ_ONCE_u32(buf.cpuAddr() + 16), "the pool's address form sees the buffer");
        pool.WRITE_ONCE_u64(buf.cpuAddr() + 24, -2L);
        assertEquals(-2L, buf.segment().get(ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN), 24));
        pool.smp_store_release_u16(buf.cpuAddr() + 32, 0xbeef);
        assertEquals(0xbeef, pool.smp_load_acquire_u16(buf.cpuAddr() + 32));
        pool.WRITE_ONCE_u8(buf.cpuAddr() + 34, 0x7f);
        assertEquals(0x7f, pool.smp_load_acquire_u8(buf.cpuAddr() + 34));
        assertEquals(0xbeef, RwOnceApi.smp_load_acquire_u16(buf.segment(), 32), "the segment form");
    }

    @Test
    void misuseIsNamedAndCaughtBeforeTheAccess() {
        BadAddressException e = assertThrows(BadAddressException.class, () -> buf.READ_ONCE_u32(8190));
        assertTrue(e.getMessage().startsWith("READ_ONCE_u32(0x1ffe): outside the buffer"), e.getMessage());
        e = assertThrows(BadAddressException.class, () -> buf.WRITE_ONCE_u64(4, 1));
        assertTrue(e.getMessage().startsWith("WRITE_ONCE_u64(0x4): not aligned"), e.getMessage());
        assertThrows(BadAddressException.class, () -> buf.smp_load_acquire_u16(-2));
        long v = pool.vmalloc(4096);
        e = assertThrows(BadAddressException.class, () -> pool.READ_ONCE_u32(v));
        assertTrue(e.getMessage().contains("a vmalloc address"), e.getMessage());
        e = assertThrows(BadAddressException.class, () -> pool.smp_store_release_u32(buf.cpuAddr() + 2, 0));
        assertTrue(e.getMessage().startsWith("smp_store_release_u32(0x"), e.getMessage());
        assertTrue(e.getMessage().contains("not 4-byte aligned"), e.getMessage());
        e = assertThrows(BadAddressException.class, () -> pool.READ_ONCE_u8(0x1000));
        assertTrue(e.getMessage().contains("not a frame of pool 'ring'"), e.getMessage());
        MemorySegment s = pool.segment(v, 4096);
        e = assertThrows(BadAddressException.class, () -> RwOnceApi.WRITE_ONCE_u32(s, 4094, 0));
        assertTrue(e.getMessage().startsWith("WRITE_ONCE_u32(0xffe): outside the segment"), e.getMessage());
        pool.close();
        PoolClosedException c = assertThrows(PoolClosedException.class, () -> buf.READ_ONCE_u32(0));
        assertTrue(c.getMessage().startsWith("READ_ONCE_u32: pool 'ring' is closed"), c.getMessage());
        assertThrows(PoolClosedException.class, () -> pool.READ_ONCE_u32(buf.cpuAddr()));
    }

    /** 0 B/op: a million accesses of each form allocate (next to) nothing on this thread. */
    @Test
    void theAccessorsAllocateNothing() throws Exception {
        // com.sun.management.ThreadMXBean, by reflection: the test module does not read jdk.management
        var mx = ManagementFactory.getThreadMXBean();
        var allocated = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        long k = pool.kmalloc(64, GFP_KERNEL);
        MemorySegment s = pool.segment(k, 64);
        long sum = 0;
        for (int round = 0; round < 3; round++) { // the first rounds warm up and compile
            long before = (long) allocated.invoke(mx);
            for (int i = 0; i < 1_000_000; i++) {
                buf.WRITE_ONCE_u32(0, i);
                sum += buf.READ_ONCE_u32(0) + buf.smp_load_acquire_u64(8);
                buf.smp_store_release_u16(16, i);
                pool.WRITE_ONCE_u64(k, i);
                sum += pool.smp_load_acquire_u32(k + 8) + pool.READ_ONCE_u8(k + 3);
                RwOnceApi.smp_store_release_u32(s, 12, i);
                sum += RwOnceApi.READ_ONCE_u64(s, 16);
            }
            long bytes = (long) allocated.invoke(mx) - before;
            if (round == 2) {
                assertTrue(bytes < 4096, "7 million accesses allocated " + bytes + " bytes (sum " + sum + ")");
            }
        }
    }
}
