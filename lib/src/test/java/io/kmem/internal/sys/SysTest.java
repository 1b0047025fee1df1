package io.kmem.internal.sys;

import io.kmem.error.SyscallException;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.bindings.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The system-call wrappers against the real kernel: round trips, failures and their messages. */
class SysTest {

    private static final long PAGE = Sys.pageSize();
    private static final int RW = Libc.PROT_READ() | Libc.PROT_WRITE();
    private static final int ANON = Libc.MAP_PRIVATE() | Libc.MAP_ANONYMOUS();

    private static MemorySegment view(long addr, long len) {
        return MemorySegment.ofAddress(addr).reinterpret(len);
    }

    @Test
    void pageSizeIsAPowerOfTwo() {
        assertTrue(PAGE >= 4096 && Long.bitCount(PAGE) == 1, "page size " + PAGE);
        assertEquals(PAGE, Sys.sysconf(Libc._SC_PAGESIZE()));
    }

    @Test
    void mmapWriteReadMunmap() {
        long len = 4 * PAGE;
        long addr = Sys.mmap(0, len, RW, ANON, -1, 0);
        try {
            assertEquals(0, addr % PAGE, "mmap returns a page-aligned address");
            MemorySegment seg = view(addr, len);
            for (long i = 0; i < len; i += 8) {
                seg.set(ValueLayout.JAVA_LONG, i, i * 31 + 7);
            }
            for (long i = 0; i < len; i += 8) {
                assertEquals(i * 31 + 7, seg.get(ValueLayout.JAVA_LONG, i));
            }
            assertEquals(4, Sys.residentPages(addr, len));
        } finally {
            Sys.munmap(addr, len);
        }
    }

    @Test
    void mincoreCountsOnlyTouchedPages() {
        long len = 8 * PAGE;
        long addr = Sys.mmap(0, len, RW, ANON, -1, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = view(addr, len);
            seg.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            seg.set(ValueLayout.JAVA_BYTE, 5 * PAGE, (byte) 1);
            MemorySegment vec = arena.allocate(8);
            assertEquals(2, Sys.mincore(addr, len, vec));
            assertEquals(1, vec.get(ValueLayout.JAVA_BYTE, 5) & 1);
            assertEquals(0, vec.get(ValueLayout.JAVA_BYTE, 4) & 1);
            assertThrows(IllegalArgumentException.class, () -> Sys.mincore(addr, len, vec.asSlice(0, 7)),
                    "a vector shorter than the range is refused before the kernel writes past it");
        } finally {
            Sys.munmap(addr, len);
        }
    }

    @Test
    void mprotectMadviseAndMremap() {
        long addr = Sys.mmap(0, 2 * PAGE, RW, ANON, -1, 0);
        view(addr, 2 * PAGE).set(ValueLayout.JAVA_LONG, 8, 0x1234_5678_9abcL);
        Sys.mprotect(addr, 2 * PAGE, Libc.PROT_READ());
        Sys.mprotect(addr, 2 * PAGE, RW);
        long moved = Sys.mremap(addr, 2 * PAGE, 64 * PAGE, Libc.MREMAP_MAYMOVE(), 0);
        try {
            assertEquals(0x1234_5678_9abcL, view(moved, 64 * PAGE).get(ValueLayout.JAVA_LONG, 8),
                    "mremap keeps the contents");
            view(moved, 64 * PAGE).set(ValueLayout.JAVA_LONG, 63 * PAGE, 1L);
            Sys.madvise(moved, 64 * PAGE, Libc.MADV_DONTNEED());
            assertEquals(0, view(moved, 64 * PAGE).get(ValueLayout.JAVA_LONG, 8),
                    "MADV_DONTNEED drops private anonymous pages");
        } finally {
            Sys.munmap(moved, 64 * PAGE);
        }
    }

    @Test
    void mlockPinsOrSaysHowToRaiseTheLimit() {
        long addr = Sys.mmap(0, PAGE, RW, ANON, -1, 0);
        try {
            Sys.mlock(addr, PAGE);
            assertEquals(1, Sys.residentPages(addr, PAGE), "mlock faults the page in");
            Sys.munlock(addr, PAGE);
        } catch (SyscallException e) {
            assertEquals("mlock", e.call());
            assertTrue(e.getMessage().contains("RLIMIT_MEMLOCK"), e.getMessage());
        } finally {
            Sys.munmap(addr, PAGE);
        }
        long limit = Sys.memlockLimit();
        assertTrue(limit >= 0, "RLIMIT_MEMLOCK " + limit);
    }

    @Test
    void mlockOfAHoleNamesTheLimitInItsHint() {
        long addr = Sys.mmap(0, 3 * PAGE, RW, ANON, -1, 0);
        Sys.munmap(addr + PAGE, PAGE);
        try {
            SyscallException e = assertThrows(SyscallException.class, () -> Sys.mlock(addr, 3 * PAGE));
            assertEquals("ENOMEM", e.errnoName());
            assertTrue(e.getMessage().startsWith("mlock(addr=0x" + Long.toHexString(addr) + ", len=" + 3 * PAGE
                    + "): errno 12 ENOMEM (Cannot allocate memory); hint: if the whole range is mapped, "
                    + "raise RLIMIT_MEMLOCK (ulimit -l unlimited; now "), e.getMessage());
        } finally {
            Sys.munmap(addr, 3 * PAGE);
        }
    }

    @Test
    void munmapOfAMisalignedAddressThrowsEinval() {
        long addr = Sys.mmap(0, PAGE, RW, ANON, -1, 0);
        try {
            SyscallException e = assertThrows(SyscallException.class, () -> Sys.munmap(addr + 1, PAGE));
            assertEquals("munmap", e.call());
            assertEquals(Libc.EINVAL(), e.errno());
            assertEquals("EINVAL", e.errnoName());
            assertEquals("munmap(addr=0x" + Long.toHexString(addr + 1) + ", len=" + PAGE + "): errno "
                    + Libc.EINVAL() + " EINVAL (Invalid argument)", e.getMessage());
        } finally {
            Sys.munmap(addr, PAGE);
        }
    }

    @Test
    void mmapFailureNamesLengthFlagsErrnoAndHint() {
        long huge = 1L << 60;
        SyscallException e = assertThrows(SyscallException.class,
                () -> Sys.mmap(0, huge, RW, ANON | Libc.MAP_NORESERVE(), -1, 0));
        assertEquals("ENOMEM", e.errnoName());
        assertEquals(Libc.ENOMEM(), e.errno());
        assertTrue(e.getMessage().startsWith("mmap(len=" + huge + ", prot=PROT_READ|PROT_WRITE, "
                + "flags=MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE): errno 12 ENOMEM (Cannot allocate memory); hint: "),
                e.getMessage());
    }

    @Test
    void mmapFixedNoreplaceOverAMappingThrowsEexist() {
        long addr = Sys.mmap(0, PAGE, RW, ANON, -1, 0);
        try {
            SyscallException e = assertThrows(SyscallException.class,
                    () -> Sys.mmap(addr, PAGE, RW, ANON | Libc.MAP_FIXED_NOREPLACE(), -1, 0));
            assertEquals("EEXIST", e.errnoName());
            assertTrue(e.getMessage().contains("flags=MAP_PRIVATE|MAP_FIXED_NOREPLACE|MAP_ANONYMOUS"), e.getMessage());
            assertTrue(e.getMessage().endsWith("hint: the range is already mapped"), e.getMessage());
        } finally {
            Sys.munmap(addr, PAGE);
        }
    }

    @Test
    void closeOfABadDescriptorThrowsEbadf() {
        SyscallException e = assertThrows(SyscallException.class, () -> Sys.close(-1));
        assertEquals("close", e.call());
        assertEquals("EBADF", e.errnoName());
        assertTrue(e.getMessage().startsWith("close(fd=-1): errno " + e.errno() + " EBADF ("), e.getMessage());
    }

    @Test
    void openOfAMissingFileThrowsEnoent() {
        String path = "/nonexistent/kmem-" + Sys.getpid();
        SyscallException e = assertThrows(SyscallException.class, () -> Sys.open(path, Libc.O_RDONLY()));
        assertEquals("open", e.call());
        assertEquals(Libc.ENOENT(), e.errno());
        assertEquals("ENOENT", e.errnoName());
        assertEquals("open(path=\"" + path + "\", flags=O_RDONLY): errno 2 ENOENT (No such file or directory)",
                e.getMessage());
    }

    @Test
    void memfdFtruncateFallocatePunchHole() {
        int fd = Sys.memfdCreate("kmem-sys-test", Libc.MFD_CLOEXEC());
        long len = 4 * PAGE;
        try (Arena arena = Arena.ofConfined()) {
            Sys.ftruncate(fd, len);
            Sys.fallocate(fd, 0, 0, len);
            long addr = Sys.mmap(0, len, RW, Libc.MAP_SHARED(), fd, 0);
            try {
                MemorySegment seg = view(addr, len);
                seg.fill((byte) 0x5a);
                Sys.fallocate(fd, Libc.FALLOC_FL_PUNCH_HOLE() | Libc.FALLOC_FL_KEEP_SIZE(), PAGE, PAGE);
                assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, PAGE), "the punched page reads as zero");
                assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, 2 * PAGE - 1));
                assertEquals(0x5a, seg.get(ValueLayout.JAVA_BYTE, PAGE - 1), "the page before is kept");
                assertEquals(0x5a, seg.get(ValueLayout.JAVA_BYTE, 2 * PAGE), "the page after is kept");

                MemorySegment buf = arena.allocate(PAGE);
                assertEquals(PAGE, Sys.pread(fd, buf, PAGE, PAGE));
                assertEquals(0, buf.get(ValueLayout.JAVA_BYTE, 17));
                assertEquals(PAGE, Sys.pread(fd, buf, PAGE, 3 * PAGE));
                assertEquals(0x5a, buf.get(ValueLayout.JAVA_BYTE, 17));
                assertEquals(0, Sys.pread(fd, buf, PAGE, len), "pread at the end of the file reads nothing");

                byte[] hello = "hello, kmem".getBytes(StandardCharsets.US_ASCII);
                MemorySegment.copy(hello, 0, buf, ValueLayout.JAVA_BYTE, 0, hello.length);
                assertEquals(hello.length, Sys.pwrite(fd, buf, hello.length, 3 * PAGE));
                byte[] back = new byte[hello.length];
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 3 * PAGE, back, 0, back.length);
                assertArrayEquals(hello, back, "pwrite reaches the shared mapping");
            } finally {
                Sys.munmap(addr, len);
            }
        } finally {
            Sys.close(fd);
        }
    }

    @Test
    void sealsStopGrowth() {
        int fd = Sys.memfdCreate("kmem-sys-seals", Libc.MFD_CLOEXEC() | Libc.MFD_ALLOW_SEALING());
        try {
            Sys.ftruncate(fd, PAGE);
            Sys.fcntl(fd, Libc.F_ADD_SEALS(), Libc.F_SEAL_GROW() | Libc.F_SEAL_SHRINK());
            int seals = Sys.fcntl(fd, Libc.F_GET_SEALS(), 0);
            assertEquals(Libc.F_SEAL_GROW() | Libc.F_SEAL_SHRINK(), seals);
            SyscallException e = assertThrows(SyscallException.class, () -> Sys.ftruncate(fd, 2 * PAGE));
            assertEquals("EPERM", e.errnoName());
            assertTrue(e.getMessage().contains("sealed"), e.getMessage());
        } finally {
            Sys.close(fd);
        }
        int unsealable = Sys.memfdCreate("kmem-sys-no-seals", Libc.MFD_CLOEXEC());
        try {
            SyscallException e = assertThrows(SyscallException.class,
                    () -> Sys.fcntl(unsealable, Libc.F_ADD_SEALS(), Libc.F_SEAL_GROW()));
            assertEquals("fcntl(fd=" + unsealable + ", cmd=F_ADD_SEALS, arg=F_SEAL_GROW): errno 1 EPERM "
                    + "(Operation not permitted); hint: create the memfd with MFD_ALLOW_SEALING; "
                    + "F_SEAL_SEAL forbids further seals", e.getMessage());
        } finally {
            Sys.close(unsealable);
        }
    }

    @Test
    void preadOfPagemapReturnsEightBytesPerPage() {
        long len = 3 * PAGE;
        long addr = Sys.mmap(0, len, RW, ANON, -1, 0);
        int fd = Sys.open("/proc/self/pagemap", Libc.O_RDONLY() | Libc.O_CLOEXEC());
        try (Arena arena = Arena.ofConfined()) {
            view(addr, len).fill((byte) 1);
            MemorySegment entries = arena.allocate(3 * 8, 8);
            assertEquals(3 * 8, Sys.pread(fd, entries, 3 * 8, addr / PAGE * 8));
            for (int i = 0; i < 3; i++) {
                long entry = entries.getAtIndex(ValueLayout.JAVA_LONG, i);
                assertNotEquals(0, entry & (1L << 63), "page " + i + " is present");
            }
            assertThrows(IllegalArgumentException.class, () -> Sys.pread(fd, entries, 4 * 8, 0));
            assertThrows(IllegalArgumentException.class,
                    () -> Sys.pread(fd, MemorySegment.ofArray(new long[3]), 3 * 8, 0));
        } finally {
            Sys.close(fd);
            Sys.munmap(addr, len);
        }
    }

    @Test
    void strerrorAndErrnoName() {
        assertEquals("Cannot allocate memory", Sys.strerror(Libc.ENOMEM()));
        assertEquals("ENOMEM", Sys.errnoName(Libc.ENOMEM()));
        assertEquals("EAGAIN", Sys.errnoName(Libc.EAGAIN()));
        assertEquals("UNKNOWN", Sys.errnoName(100_000));
        assertTrue(Sys.strerror(100_000).contains("100000"), Sys.strerror(100_000));
    }

    @Test
    void processAndCpu() {
        assertEquals(ProcessHandle.current().pid(), Sys.getpid());
        long cpus = Sys.sysconf(Libc._SC_NPROCESSORS_ONLN());
        int cpu = Sys.schedGetcpu();
        assertTrue(cpus >= 1, "online CPUs " + cpus);
        assertTrue(cpu >= 0, "cpu " + cpu);
        SyscallException e = assertThrows(SyscallException.class, () -> Sys.sysconf(-1));
        assertEquals("EINVAL", e.errnoName());
    }

    @Test
    void errnoIsPerThread() throws InterruptedException {
        Thread other = Thread.ofVirtual().start(() -> assertThrows(SyscallException.class, () -> Sys.close(-1)));
        SyscallException e = assertThrows(SyscallException.class,
                () -> Sys.open("/nonexistent/kmem-per-thread", Libc.O_RDONLY()));
        other.join();
        assertEquals("ENOENT", e.errnoName());
    }
}
