package io.kmem.vmtest;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * STAND-IN FOR KMEM'S IOREMAP. kmem's {@code ioremap}, {@code pci_iomap} and MMIO accessors
 * (package {@code io.kmem.mmio}, issue 6) are being written; until they land, this one class
 * maps a PCI BAR itself with FFM and offers the four accessors the edu driver needs. When
 * they land: replace {@link #pciResource} with {@code pci_iomap(dev, 0)}, {@link #devMem} with
 * {@code ioremap(phys, size)}, the accessors with kmem's {@code readl}/{@code writel}/
 * {@code readq}/{@code writeq}, and delete this class. Nothing else in the driver calls C.
 *
 * <p>The mapping is {@code MAP_SHARED} of a device file: the sysfs {@code resourceN} file of
 * the device (the kernel maps it uncached), or {@code /dev/mem} at the BAR's physical address
 * (opened {@code O_SYNC}: uncached; the guest kernel's {@code STRICT_DEVMEM} lets root map
 * it because the BAR is not System RAM and no kernel driver claims it). Accesses are
 * volatile, so the JIT neither drops, merges nor reorders them, and a 32-bit accessor is one
 * 32-bit load or store, as the device requires. The segment belongs to a shared arena whose
 * close unmaps it: a register access after {@link #close} throws instead of touching an
 * unmapped page, and an offset outside the window throws too.
 */
final class BarWindow implements AutoCloseable {

    // x86-64 Linux values (asm-generic/fcntl.h, mman-common.h).
    private static final int O_RDWR = 02;
    private static final int O_SYNC = 04010000;
    private static final int O_CLOEXEC = 02000000;
    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_SHARED = 0x01;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO_STATE = Linker.Option.captureCallState("errno");
    private static final VarHandle ERRNO = Linker.Option.captureStateLayout().varHandle(groupElement("errno"));

    /** {@code int open(const char *path, int flags, ...)}: variadic after the flags. */
    private static final MethodHandle OPEN = handle("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2),
            ERRNO_STATE);
    /** {@code void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)} */
    private static final MethodHandle MMAP = handle("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), ERRNO_STATE);
    /** {@code int munmap(void *addr, size_t len)} */
    private static final MethodHandle MUNMAP = handle("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code int close(int fd)} */
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** {@code char *strerror(int errnum)} */
    private static final MethodHandle STRERROR = handle("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private static final VarHandle U32 = JAVA_INT.varHandle();
    private static final VarHandle U64 = JAVA_LONG.varHandle();

    private final String what;
    private final long phys;
    private final Arena arena;
    private final MemorySegment regs;

    private BarWindow(String what, long phys, Arena arena, MemorySegment regs) {
        this.what = what;
        this.phys = phys;
        this.arena = arena;
        this.regs = regs;
    }

    /** Maps {@code size} bytes of a PCI device's sysfs {@code resourceN} file (like {@code pci_iomap}). */
    static BarWindow pciResource(String resourceFile, long phys, long size) {
        return map(resourceFile, 0, phys, size, resourceFile);
    }

    /** Maps {@code size} bytes of {@code /dev/mem} at physical address {@code phys} (like {@code ioremap}). */
    static BarWindow devMem(long phys, long size) {
        return map("/dev/mem", phys, phys, size, "/dev/mem at 0x" + Long.toHexString(phys));
    }

    private static BarWindow map(String path, long offset, long phys, long size, String what) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), O_RDWR | O_SYNC | O_CLOEXEC, 0);
            if (fd < 0) {
                throw failure("open(" + path + ", O_RDWR|O_SYNC)", state);
            }
            MemorySegment addr = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, size,
                    PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
            RuntimeException mmapFailure = addr.address() == -1L
                    ? failure("mmap(" + path + ", " + size + " bytes at offset 0x" + Long.toHexString(offset)
                      + ", MAP_SHARED)", state)
                    : null;
            int closed = (int) CLOSE.invokeExact(fd); // the mapping keeps the file; EINTR means closed too
            if (mmapFailure != null) {
                throw mmapFailure;
            }
            MemorySegment regs = addr.reinterpret(size, arena, s -> unmap(s.address(), size));
            return new BarWindow(what, phys, arena, regs);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        } catch (Throwable t) {
            arena.close();
            throw new IllegalStateException(t);
        }
    }

    private static void unmap(long addr, long size) {
        try {
            int rc = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(addr), size);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap", t);
        }
    }

    private static RuntimeException failure(String call, MemorySegment state) throws Throwable {
        int errno = (int) ERRNO.get(state, 0L);
        MemorySegment msg = (MemorySegment) STRERROR.invokeExact(errno);
        return new IllegalStateException(call + ": errno " + errno + " (" + msg.reinterpret(256).getString(0) + ")"
                + (errno == 1 || errno == 13 ? "; run as root (and for /dev/mem: a BAR no kernel driver claims)" : ""));
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(
                () -> new IllegalStateException("libc has no " + name)), fd, options);
    }

    /** 32-bit register read at {@code off}. */
    int readl(long off) {
        return (int) U32.getVolatile(regs, off);
    }

    /** 32-bit register write at {@code off}. */
    void writel(long off, int value) {
        U32.setVolatile(regs, off, value);
    }

    /** 64-bit register read at {@code off}. */
    long readq(long off) {
        return (long) U64.getVolatile(regs, off);
    }

    /** 64-bit register write at {@code off}. */
    void writeq(long off, long value) {
        U64.setVolatile(regs, off, value);
    }

    /** The BAR's physical address. */
    long phys() {
        return phys;
    }

    /** The virtual address the BAR is mapped at in this process. */
    long virt() {
        return regs.address();
    }

    long size() {
        return regs.byteSize();
    }

    @Override
    public String toString() {
        return what + " (phys 0x" + Long.toHexString(phys) + ", " + (size() >> 10) + " KiB) at va 0x"
                + Long.toHexString(virt());
    }

    @Override
    public void close() {
        arena.close();
    }
}
