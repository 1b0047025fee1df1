package io.kmem.internal.phys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.error.KmemException;
import io.kmem.error.SyscallException;
import io.kmem.gfp.FrameKind;
import io.kmem.stats.HostInfo;
import io.kmem.stats.PinState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The long-term pin on this host: what the pool says it pinned is what the kernel holds
 * registered, read back from {@code /proc/self/fdinfo} of the process's io_uring rings (the
 * kernel lists each registered buffer as {@code N: 0xADDR/LEN}). That the pin keeps pages
 * from migrating is proven in the guest ({@code tools/vm-test pin}), where migration can be
 * forced.
 *
 * <p>Only rings opened since the test began count ({@link #ringsBefore}). A ring open before
 * it is not the test's pool's, yet its buffers can lie in the pool's frame view: the kernel
 * lists the address each buffer was registered at, and keeps it after that range is unmapped,
 * so a ring an earlier test leaked, whose pool's reservation the garbage collector then gave
 * back, names addresses that a new pool's frame view may reuse.
 */
class LongTermPinTest {
    private static final long MIB = 1L << 20;
    private static final Pattern BUFFER = Pattern.compile("^\\s*\\d+: 0x([0-9a-f]+)/(\\d+)$");

    /** The io_uring rings open when this test began (JUnit makes an instance per test). */
    private final Set<Path> ringsBefore = openRings();

    private static FramePool pool(long smallMax, long dmaMask, boolean require, String refuse) {
        long[] max = new long[FrameKind.values().length];
        max[FrameKind.SMALL_4K.ordinal()] = smallMax;
        return FramePool.create(new FramePool.Config("pin", max, dmaMask, false, require, refuse));
    }

    /** The io_uring rings open in this process now, by their /proc/self/fd entry. */
    private static Set<Path> openRings() {
        Set<Path> out = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals("anon_inode:[io_uring]")) {
                        out.add(fd.getFileName());
                    }
                } catch (IOException gone) {
                    // the descriptor Files.list itself used, or one closed meanwhile
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list /proc/self/fd", e);
        }
        return out;
    }

    /** The rings opened since this test began. */
    private Set<Path> newRings() {
        Set<Path> rings = openRings();
        rings.removeAll(ringsBefore);
        return rings;
    }

    /** Every buffer registered with a ring opened since this test began: {address, length} pairs. */
    private List<long[]> registeredBuffers() throws IOException {
        List<long[]> out = new ArrayList<>();
        for (Path fd : newRings()) {
            for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo").resolve(fd))) {
                Matcher m = BUFFER.matcher(line);
                if (m.matches()) {
                    out.add(new long[] {Long.parseUnsignedLong(m.group(1), 16), Long.parseLong(m.group(2))});
                }
            }
        }
        return out;
    }

    /** Frames (by frame-view address) inside some registered buffer of this process. */
    private static boolean registered(List<long[]> buffers, long addr) {
        for (long[] b : buffers) {
            if (addr >= b[0] && addr < b[0] + b[1]) {
                return true;
            }
        }
        return false;
    }

    private static long registeredBytesIn(List<long[]> buffers, long from, long to) {
        long n = 0;
        for (long[] b : buffers) {
            n += Math.max(0, Math.min(to, b[0] + b[1]) - Math.max(from, b[0]));
        }
        return n;
    }

    @Test
    void everyFrameOfAPhysicalPoolIsRegisteredWithIoUringAndThePoolSaysSo() throws IOException {
        try (FramePool p = pool(64 * MIB, -1, false, null)) {
            p.grow(FrameKind.SMALL_4K, 4096);
            p.grow(FrameKind.SMALL_4K, 1024);
            PinState pin = p.pinState();
            assertTrue(pin.longTerm(), "this host (root, io_uring allowed) pins long-term: " + pin);
            assertNull(pin.reason());
            assertEquals(5120 * 4096L, pin.pinnedBytes());
            assertTrue(pin.rings() >= 1, pin.toString());
            List<long[]> buffers = registeredBuffers();
            long first = p.firstIdx(FrameKind.SMALL_4K);
            long from = p.frameViewAddress(first);
            assertEquals(5120 * 4096L, registeredBytesIn(buffers, from, p.frameViewAddress(first + 5120)),
                    "fdinfo of the rings lists the pool's frame view, every byte once: " + describe(buffers));
            for (long idx = first; idx < first + 5120; idx++) {
                assertTrue(registered(buffers, p.frameViewAddress(idx)), "frame " + idx + " registered");
            }
            assertTrue(pin.summary().startsWith("long-term pin (20480 kB"), pin.summary());
        }
    }

    @Test
    void releasedFramesAreUnpinnedAndTheFramesKeptStayPinned() throws IOException {
        try (FramePool p = pool(16 * MIB, -1, false, null)) {
            p.grow(FrameKind.SMALL_4K, 2048);
            long first = p.firstIdx(FrameKind.SMALL_4K);
            long[] give = new long[100];
            for (int i = 0; i < give.length; i++) {
                give[i] = MemMap.pfn(p.memMap().info(first + 700 + 3 * i));
            }
            p.release(give);
            assertEquals((2048 - 100) * 4096L, p.pinState().pinnedBytes());
            List<long[]> buffers = registeredBuffers();
            for (long idx = first; idx < first + 2048; idx++) {
                boolean released = idx >= first + 700 && idx < first + 1000 && (idx - first - 700) % 3 == 0;
                assertEquals(!released, registered(buffers, p.frameViewAddress(idx)),
                        "frame " + idx + (released ? " released: unpinned" : " kept: pinned"));
            }
            assertEquals((2048 - 100) * 4096L, registeredBytesIn(buffers, p.frameViewAddress(first),
                    p.frameViewAddress(first + 2048)));
            p.grow(FrameKind.SMALL_4K, 100);
            assertEquals(2048 * 4096L, p.pinState().pinnedBytes(), "the holes, refilled, are pinned again");
            assertEquals(2048 * 4096L, registeredBytesIn(registeredBuffers(), p.frameViewAddress(first),
                    p.frameViewAddress(first + 2048)));
            assertTrue(p.verify().moved().isEmpty());
        }
    }

    @Test
    void closingThePoolUnregistersAndClosesItsRings() throws IOException {
        FramePool p = pool(16 * MIB, -1, false, null);
        p.grow(FrameKind.SMALL_4K, 1024);
        assertEquals(1, newRings().size());
        assertEquals(1024 * 4096L, registeredBytesIn(registeredBuffers(), p.frameViewAddress(p.firstIdx(
                FrameKind.SMALL_4K)), p.frameViewAddress(p.firstIdx(FrameKind.SMALL_4K) + 1024)));
        p.close();
        assertEquals(Set.of(), newRings(), "the pool's ring is closed");
    }

    @Test
    void aDmaMaskPoolPinsOnlyTheFramesItKeeps() throws IOException {
        // Hugetlb frames, a fixed set (as FramePoolTest's mask test): a probe takes every free
        // hugepage, the mask sits after three quarters of them by PFN. The masked pool keeps
        // the quarter below it; asked for one hugepage more, it must take and hold back every
        // hugepage above the mask before it fails. Neither intake leaves a held-back frame pinned.
        FramePoolTest.requireHugepages(64);
        long free = HostInfo.read().freeHugepages2m();
        long[] probe;
        try (FramePool p = hugePool(free, -1)) {
            probe = p.grow(FrameKind.HUGE_2M, free * 512).pfns();
        }
        int below = (int) (free * 3 / 4);
        long mask = ((probe[below * 512 - 1] + 1) << 12) - 1;
        try (FramePool p = hugePool(free, mask)) {
            p.grow(FrameKind.HUGE_2M, below * 512L);
            assertPinsExactlyThePresentFrames(p, FrameKind.HUGE_2M);
            KmemException e = assertThrows(KmemException.class, () -> p.grow(FrameKind.HUGE_2M, 512));
            assertTrue(e.getMessage().contains("below the mask"), e.getMessage());
            assertEquals(below * 512L, p.presentFrames());
            assertPinsExactlyThePresentFrames(p, FrameKind.HUGE_2M);
        }
        assertEquals(free, HostInfo.read().freeHugepages2m(), "every hugepage is free again after close");
    }

    private static FramePool hugePool(long hugepages, long dmaMask) {
        long[] max = new long[FrameKind.values().length];
        max[FrameKind.HUGE_2M.ordinal()] = hugepages * 2 * MIB;
        return FramePool.create(new FramePool.Config("pin", max, dmaMask, false, false, null));
    }

    private void assertPinsExactlyThePresentFrames(FramePool p, FrameKind kind) throws IOException {
        assertEquals(p.presentFrames() * 4096, p.pinState().pinnedBytes());
        long first = p.firstIdx(kind);
        long end = first + p.maxFrames(kind);
        assertEquals(p.presentFrames() * 4096, registeredBytesIn(registeredBuffers(), p.frameViewAddress(first),
                p.frameViewAddress(end)), "held-back frames are not left pinned");
    }

    @Test
    void whenIoUringIsForbiddenThePoolFallsBackToMlockAndSaysWhy() throws IOException {
        try (FramePool p = pool(16 * MIB, -1, false, "EPERM")) {
            p.grow(FrameKind.SMALL_4K, 1024);
            p.grow(FrameKind.SMALL_4K, 1024);
            PinState pin = p.pinState();
            assertFalse(pin.longTerm());
            assertEquals(0, pin.pinnedBytes());
            assertEquals(0, pin.rings());
            assertTrue(pin.reason().contains("io_uring is forbidden (io_uring_setup EPERM)")
                    && pin.reason().contains("kernel.io_uring_disabled=0")
                    && pin.reason().contains("seccomp"), pin.reason());
            assertTrue(pin.summary().startsWith("mlock only (0 kB pinned long-term): io_uring is forbidden"),
                    pin.summary());
            assertEquals(2048, p.presentFrames(), "the pool still works, mlocked");
            assertEquals(Set.of(), newRings());
        }
    }

    @Test
    void requireLongTermPinTurnsTheRefusalIntoAnErrorAndLeavesThePoolEmpty() throws IOException {
        try (FramePool p = pool(16 * MIB, -1, true, "EPERM")) {
            KmemException e = assertThrows(KmemException.class, () -> p.grow(FrameKind.SMALL_4K, 1024));
            assertTrue(e.getMessage().startsWith("grow: pool 'pin' requires a long-term pin (requireLongTermPin)"
                    + " and cannot have one: io_uring is forbidden"), e.getMessage());
            assertTrue(e.getMessage().contains("kernel.io_uring_disabled=0"), e.getMessage());
            assertEquals(0, p.presentFrames());
            assertEquals(Set.of(), newRings());
            assertTrue(p.pinState().longTerm(), "nothing held, nothing unpinned: " + p.pinState());
        }
    }

    @Test
    void anUnprivilegedPoolIsNotPinnedAndCannotRequireIt() {
        long[] max = new long[FrameKind.values().length];
        max[FrameKind.SMALL_4K.ordinal()] = 8 * MIB;
        try (FramePool p = FramePool.create(new FramePool.Config("u", max, -1, true))) {
            p.grow(FrameKind.SMALL_4K, 256);
            assertFalse(p.pinState().longTerm());
            assertTrue(p.pinState().reason().contains("unprivileged"), p.pinState().reason());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FramePool.create(new FramePool.Config("u", max, -1, true, true, null)));
        assertTrue(e.getMessage().contains("requireLongTermPin needs a physical pool"), e.getMessage());
    }

    @Test
    void everyRefusalNamesItsCauseAndItsFix() {
        assertTrue(refusal("ENOMEM", false).contains("RLIMIT_MEMLOCK is exhausted")
                && refusal("ENOMEM", false).contains("locked_vm, shared by every process of this uid")
                && refusal("ENOMEM", false).contains("ulimit -l unlimited"), refusal("ENOMEM", false));
        assertTrue(refusal("ENOMEM", true).contains("ZONE_MOVABLE"), refusal("ENOMEM", true));
        assertTrue(refusal("EFAULT", true).contains("ZONE_MOVABLE"), refusal("EFAULT", true));
        assertTrue(refusal("ENOSYS", false).contains("this kernel has no io_uring"), refusal("ENOSYS", false));
        assertTrue(refusal("EOPNOTSUPP", false).contains("shmem and hugetlbfs"), refusal("EOPNOTSUPP", false));
    }

    private static String refusal(String errno, boolean hugetlb) {
        SyscallException e = assertThrows(SyscallException.class,
                () -> new LongTermPin(errno).pin(new long[] {0x10000, 4096}));
        return LongTermPin.refusal(e, hugetlb);
    }

    private static String describe(List<long[]> buffers) {
        StringBuilder sb = new StringBuilder();
        for (long[] b : buffers) {
            sb.append(Arrays.toString(new String[] {Long.toHexString(b[0]), Long.toString(b[1])}));
        }
        return sb.toString();
    }
}
