package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.bindings.Libc;
import io.kmem.error.BadAddressException;
import io.kmem.internal.sys.Sys;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The driver helpers on {@link IoMem} over a memfd standing in for a device: 64-bit registers
 * as two 32-bit halves in the order named, and the {@code <linux/iopoll.h>} polls (0 or
 * -ETIMEDOUT, the last value read). The order of the two halves is observed by a second
 * thread, as a device would see it: no test hook in the accessors.
 */
class IoHelpersTest {
    private static final int SIZE = 8192;
    /** Rounds of the order observers: enough for the other thread to land between two halves many times. */
    private static final int ROUNDS = 2_000_000;
    /**
     * The most rounds a test that waits for a race to show spends before it gives up. It stops
     * at the first few sightings, so on an idle machine it takes a few thousand rounds; on a
     * loaded two-core machine the other thread may get no core for a while, and a bound of
     * {@link #ROUNDS} (0.1 s) was too short to see one (a CI run failed so).
     */
    private static final long PATIENT_ROUNDS = 500_000_000L;

    private MemoryPool pool;
    private int fd;
    private Path dev;
    private IoMem io;

    @BeforeEach
    void setUp() {
        pool = MemoryPool.builder().name("iohelp").smallPages(4L << 20).build();
        fd = Sys.memfdCreate("kmem-fake-regs", Libc.MFD_CLOEXEC());
        Sys.ftruncate(fd, SIZE);
        dev = Path.of("/proc/self/fd/" + fd);
        io = pool.ioremapFile(dev, 0, SIZE);
    }

    @AfterEach
    void tearDown() {
        if (!io.unmapped()) {
            pool.iounmap(io);   // a clean close: kmemleak would list the mapping
        }
        pool.close();
        Sys.close(fd);
    }

    @Test
    void theFourQuadHelpersWriteAndReadBothHalvesLittleEndian() {
        io.lo_hi_writeq(0x0102030405060708L, 0x10);
        io.hi_lo_writeq(0x1112131415161718L, 0x1c);
        HexFormat h = HexFormat.ofDelimiter(" ");
        assertEquals("08 07 06 05 04 03 02 01", h.formatHex(FakeHost.read(dev, 0x10, 8)));
        assertEquals("18 17 16 15 14 13 12 11", h.formatHex(FakeHost.read(dev, 0x1c, 8)), "4-byte aligned is enough");
        assertEquals(0x0102030405060708L, io.lo_hi_readq(0x10));
        assertEquals(0x1112131415161718L, io.hi_lo_readq(0x1c));
        io.writel(0xfffffffe, 0x40);
        io.writel(0x80000001, 0x44);
        assertEquals(0x80000001fffffffeL, io.lo_hi_readq(0x40), "no sign extension of the low half");
        assertEquals(0x80000001fffffffeL, io.hi_lo_readq(0x40));
    }

    @Test
    void aPairThatDoesNotFitIsRefusedBeforeEitherHalfIsWritten() {
        io.writel(0x5a5a5a5a, SIZE - 4);
        BadAddressException e = assertThrows(BadAddressException.class, () -> io.lo_hi_writeq(-1L, SIZE - 4));
        assertTrue(e.getMessage().startsWith("lo_hi_writeq("), e.getMessage());
        assertEquals(0x5a5a5a5a, io.readl(SIZE - 4), "the low half was not written");
        assertThrows(BadAddressException.class, () -> io.hi_lo_writeq(-1L, 0x12), "2-byte aligned only");
        assertThrows(BadAddressException.class, () -> io.lo_hi_readq(SIZE - 4));
        assertThrows(BadAddressException.class, () -> io.hi_lo_readq(-4));
    }

    /**
     * lo_hi_writeq writes the low half first: a reader that takes the high half, then the low
     * one, never sees a high half newer than the low one (the writer stores k in both). It must
     * also see the window (low newer than high) now and then, or the test proves nothing.
     * hi_lo_writeq is the mirror image.
     */
    @Test
    void anObserverSeesTheHalvesOfAQuadWriteInTheOrderNamed() throws Exception {
        observeWrites(true);
        observeWrites(false);
    }

    private void observeWrites(boolean loFirst) throws Exception {
        String name = loFirst ? "lo_hi_writeq" : "hi_lo_writeq";
        io.writeq(0, 0x100);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong wrongOrder = new AtomicLong();
        AtomicLong window = new AtomicLong();
        CountDownLatch started = new CountDownLatch(1);
        Thread observer = Thread.ofPlatform().start(() -> {
            started.countDown();
            while (!stop.get()) {
                for (int i = 0; i < 1000; i++) {
                    long first;
                    long second;
                    if (loFirst) { // read the half written second first
                        first = io.readl(0x104) & 0xffffffffL;
                        second = io.readl(0x100) & 0xffffffffL;
                    } else {
                        first = io.readl(0x100) & 0xffffffffL;
                        second = io.readl(0x104) & 0xffffffffL;
                    }
                    if (first > second) {
                        wrongOrder.incrementAndGet();
                    } else if (first < second) {
                        window.incrementAndGet();
                    }
                }
            }
        });
        started.await();
        for (long k = 1; k <= PATIENT_ROUNDS && window.get() < 100; k++) {
            long v = k << 32 | k;
            if (loFirst) {
                io.lo_hi_writeq(v, 0x100);
            } else {
                io.hi_lo_writeq(v, 0x100);
            }
        }
        stop.set(true);
        observer.join();
        assertEquals(0, wrongOrder.get(), name + ": the half written second was seen before the one written first");
        assertTrue(window.get() > 0, name + ": the observer never landed between the two halves in " + PATIENT_ROUNDS
                + " writes; the order was not observed");
    }

    /**
     * lo_hi_readq reads the low half first: against a writer that stores the low half, then
     * the high one (both k), it can see a high half newer than its low half; hi_lo_readq never
     * can, as it takes the high half first.
     */
    @Test
    void aWriterShowsWhichHalfAQuadReadTakesFirst() throws Exception {
        assertEquals(0, torn(false, ROUNDS), "hi_lo_readq took the high half first, so it is never newer than the low");
        assertTrue(torn(true, PATIENT_ROUNDS) > 0, "lo_hi_readq takes the low half first: a high half newer than it"
                + " must show up");
    }

    /** Reads that saw hi > lo while a writer stores lo then hi, in at most {@code rounds} reads (stops at 100). */
    private long torn(boolean loHi, long rounds) throws Exception {
        io.writeq(0, 0x200);
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch started = new CountDownLatch(1);
        Thread writer = Thread.ofPlatform().start(() -> {
            started.countDown();
            for (int k = 1; !stop.get(); k++) {
                io.writel(k, 0x200);
                io.writel(k, 0x204);
            }
        });
        started.await();
        long seen = 0;
        for (long i = 0; i < rounds && seen < 100; i++) {
            long v = loHi ? io.lo_hi_readq(0x200) : io.hi_lo_readq(0x200);
            if ((v >>> 32) > (v & 0xffffffffL)) {
                seen++;
            }
        }
        stop.set(true);
        writer.join();
        return seen;
    }

    // ------------------------------------------------------------------ polls

    @Test
    void readlPollTimeoutReturnsZeroAndTheValueOnceAnotherThreadSetsTheBit() throws Exception {
        io.writel(0, 0x80);
        CountDownLatch polling = new CountDownLatch(1);
        Thread device = Thread.ofPlatform().start(() -> {
            try {
                polling.await();
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
            io.writel(0x8001, 0x80);
        });
        int[] val = new int[1];
        polling.countDown();
        int rc = io.readl_poll_timeout(0x80, val, v -> (v & 0x8000) != 0, 100, TimeUnit.SECONDS.toMicros(30));
        device.join();
        assertEquals(0, rc);
        assertEquals(0x8001, val[0], "the value that met the condition");
    }

    @Test
    void aConditionThatNeverHoldsTimesOutWithMinus110AndTheLastValue() {
        io.writel(0x1234, 0x80);
        io.writeq(0x1122334455667788L, 0x88);
        int[] val = new int[1];
        assertEquals(-110, io.readl_poll_timeout(0x80, val, v -> v == 0, 50, 2000));
        assertEquals(0x1234, val[0]);
        assertEquals(-IoApi.ETIMEDOUT, io.readl_poll_timeout_atomic(0x80, val, v -> v == 0, 5, 1000));
        long[] q = new long[1];
        assertEquals(-110, io.readq_poll_timeout(0x88, q, v -> v == 0, 10, 500));
        assertEquals(0x1122334455667788L, q[0]);
        assertEquals(-110, io.readq_poll_timeout_atomic(0x88, q, v -> v == 0, 0, 500));
        assertEquals(-110, io.readb_poll_timeout(0x81, val, v -> v == 0, 10, 500));
        assertEquals(0x12, val[0], "readb's value");
        assertEquals(-110, io.readw_poll_timeout_atomic(0x80, val, v -> v == 0, 1, 500));
        assertEquals(0x1234, val[0], "readw's value");
        assertEquals(0, io.readw_poll_timeout(0x80, null, v -> v == 0x1234, 10, 500), "a null val is allowed");
        assertEquals(0, io.readb_poll_timeout_atomic(0x80, val, v -> v == 0x34, 1, 0), "holds at once, no timeout");
    }

    /**
     * The kernel's order: the deadline is noted before each read, so after it passes there is
     * one more read, and a value that arrived meanwhile counts. A read that first meets the
     * condition only after the deadline still returns 0.
     */
    @Test
    void theConditionIsTestedOnceMoreAfterTheDeadline() {
        AtomicInteger reads = new AtomicInteger();
        long[] val = new long[1];
        int rc = IoApi.readx_poll_timeout(a -> {
            int n = reads.incrementAndGet();
            if (n == 1) {
                Iopoll.delay(3000); // the first read takes longer than the whole timeout
            }
            return n;
        }, 0x10, val, v -> v >= 2, 0, 1000);
        assertEquals(0, rc, "the read after the deadline met the condition");
        assertEquals(2, val[0]);
        reads.set(0);
        int rc2 = IoApi.readx_poll_timeout_atomic(a -> {
            int n = reads.incrementAndGet();
            Iopoll.delay(600);
            return n;
        }, 0x10, val, v -> false, 0, 1000);
        assertEquals(-110, rc2);
        assertTrue(val[0] >= 2, "read at least once after the deadline: " + val[0]);
    }

    @Test
    void badPollArgumentsAreRefusedNamingTheFunction() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> io.readl_poll_timeout(0, null, v -> true, -1, 10));
        assertTrue(e.getMessage().startsWith("readl_poll_timeout: sleep_us -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> io.readq_poll_timeout_atomic(0, null, v -> true, 1, -5));
        assertTrue(e.getMessage().startsWith("readq_poll_timeout_atomic: delay_us 1, timeout_us -5"), e.getMessage());
        NullPointerException n = assertThrows(NullPointerException.class,
                () -> io.readw_poll_timeout(0, null, null, 1, 1));
        assertEquals("readw_poll_timeout: cond is null", n.getMessage());
        BadAddressException b = assertThrows(BadAddressException.class,
                () -> io.readl_poll_timeout(2, null, v -> true, 1, 1));
        assertTrue(b.getMessage().startsWith("readl_poll_timeout(0x2)"), b.getMessage());
        n = assertThrows(NullPointerException.class, () -> IoApi.readx_poll_timeout(null, 0, null, v -> true, 1, 1));
        assertEquals("readx_poll_timeout: op is null", n.getMessage());
    }
}
