package io.kmem.bench;

import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import org.openjdk.jmh.infra.Control;

/**
 * The allocators the workload suite ({@link WorkloadBench}) compares, behind one small
 * interface over slots: {@code alloc(slot, size)} puts a new object in a slot,
 * {@code free(slot)} frees it. Each JMH fork loads exactly one implementation, so the calls
 * stay monomorphic and inline.
 *
 * <ul>
 *   <li>{@code kmem}: {@code kmalloc(size, GFP_KERNEL)} / {@code kfree} on a fresh pool;
 *   <li>{@code glibc}: {@code malloc} / {@code free} of the default lookup;
 *   <li>{@code mimalloc}: {@code mi_malloc} / {@code mi_free} of Debian's libmimalloc2.0,
 *       loaded by path ({@link #MIMALLOC});
 *   <li>{@code netty}: {@code PooledByteBufAllocator.directBuffer(size)} / {@code release()},
 *       a dedicated allocator with thread caches for every thread, leak detection off.
 * </ul>
 * Native calls are downcalls with {@code Linker.Option.critical(false)} (no thread-state
 * transition: these functions neither block nor call back), addresses passed as
 * {@code long} ({@code JAVA_LONG} in the descriptor: the same bits as a pointer on x86-64),
 * so that no {@link MemorySegment} is made per call.
 */
final class Peers {
    /** Debian's libmimalloc2.0 ({@code dpkg -L libmimalloc2.0}); {@code make bench} installs it. */
    static final Path MIMALLOC = Path.of("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2");

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static SymbolLookup mi;

    private Peers() {
    }

    static synchronized SymbolLookup mimalloc() {
        if (mi == null) {
            if (!Files.exists(MIMALLOC)) {
                throw new IllegalStateException(MIMALLOC + " is missing: apt-get install libmimalloc2.0 (make bench"
                        + " does, through tools/ensure-deps)");
            }
            mi = SymbolLookup.libraryLookup(MIMALLOC, Arena.global());
        }
        return mi;
    }

    /** A downcall with {@code critical(false)} to {@code name}, all arguments and the result as longs. */
    static MethodHandle downcall(SymbolLookup lookup, String name, int args, boolean returns) {
        ValueLayout.OfLong[] a = new ValueLayout.OfLong[args];
        java.util.Arrays.fill(a, ValueLayout.JAVA_LONG);
        FunctionDescriptor fd = returns ? FunctionDescriptor.of(ValueLayout.JAVA_LONG, a) : FunctionDescriptor.ofVoid(a);
        MemorySegment sym = lookup.find(name).orElseThrow(() -> new IllegalStateException("no symbol " + name));
        return LINKER.downcallHandle(sym, fd, Linker.Option.critical(false));
    }

    static MethodHandle libc(String name, int args, boolean returns) {
        return downcall(LIBC, name, args, returns);
    }

    static MethodHandle mi(String name, int args, boolean returns) {
        return downcall(mimalloc(), name, args, returns);
    }

    /** An allocator over slots {@code 0..capacity-1}. */
    abstract static class Alloc implements AutoCloseable {
        /** Allocates {@code size} bytes into {@code slot} (empty before). */
        abstract void alloc(int slot, int size);

        /** Frees the object in {@code slot}. */
        abstract void free(int slot);

        /** The address in a slot, 0 when empty (Netty: its memory address). */
        abstract long address(int slot);

        /** A page-aligned block of {@code 4096 << order} bytes into {@code slot}. */
        abstract void allocPages(int slot, int order);

        abstract void freePages(int slot, int order);

        /**
         * Producer side of the producer/consumer workload: a new object of {@code size} bytes
         * offered to {@code ring}, spinning while it is full; false (the object freed again)
         * when JMH ends the iteration meanwhile.
         */
        abstract boolean produce(SpscRing ring, int size, Control control);

        /** Consumer side: frees the next object of {@code ring}; false when it is empty. */
        abstract boolean consume(SpscRing ring);

        @Override
        public void close() {
        }

        static boolean offer(SpscRing ring, long addr, Object obj, Control control) {
            for (int spins = 0; !ring.offer(addr, obj); spins++) {
                if (control.stopMeasurement) {
                    return false;
                }
                backoff(spins);
            }
            return true;
        }

        /** Spins a little, then yields: on 2 shared cores a pure spin can starve the other side. */
        static void backoff(int spins) {
            if (spins < 64) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }

        static Alloc of(String name, int capacity) {
            return switch (name) {
                case "kmem" -> new Kmem(capacity);
                case "glibc" -> new Native(capacity, libc("malloc", 1, true), libc("free", 1, false),
                        libc("aligned_alloc", 2, true));
                case "mimalloc" -> new Native(capacity, mi("mi_malloc", 1, true), mi("mi_free", 1, false),
                        mi("mi_aligned_alloc", 2, true));
                case "netty" -> new Netty(capacity);
                default -> throw new IllegalArgumentException("allocator " + name);
            };
        }
    }

    static final class Kmem extends Alloc {
        static final int GFP = Gfp.GFP_KERNEL;
        final MemoryPool pool;
        final long[] slots;

        Kmem(int capacity) {
            this(MemoryPool.builder().name("bench-workload").smallPages(512L << 20).build(), capacity);
        }

        Kmem(MemoryPool pool, int capacity) {
            this.pool = pool;
            this.slots = new long[capacity];
        }

        @Override
        void alloc(int slot, int size) {
            long a = pool.kmalloc(size, GFP);
            if (a == 0) {
                throw new IllegalStateException("kmalloc(" + size + ") returned NULL");
            }
            slots[slot] = a;
        }

        @Override
        void free(int slot) {
            pool.kfree(slots[slot]);
        }

        @Override
        long address(int slot) {
            return slots[slot];
        }

        @Override
        void allocPages(int slot, int order) {
            long a = pool.__get_free_pages(GFP, order);
            if (a == 0) {
                throw new IllegalStateException("__get_free_pages(" + order + ") returned NULL");
            }
            slots[slot] = a;
        }

        @Override
        void freePages(int slot, int order) {
            pool.free_pages(slots[slot], order);
        }

        @Override
        boolean produce(SpscRing ring, int size, Control control) {
            long a = pool.kmalloc(size, GFP);
            if (offer(ring, a, null, control)) {
                return true;
            }
            pool.kfree(a);
            return false;
        }

        @Override
        boolean consume(SpscRing ring) {
            int i = ring.peek();
            if (i < 0) {
                return false;
            }
            pool.kfree(ring.addr(i));
            ring.advance();
            return true;
        }

        @Override
        public void close() {
            pool.close();
        }
    }

    static final class Native extends Alloc {
        final MethodHandle malloc;
        final MethodHandle free;
        final MethodHandle aligned;
        final long[] slots;

        Native(int capacity, MethodHandle malloc, MethodHandle free, MethodHandle aligned) {
            this.malloc = malloc;
            this.free = free;
            this.aligned = aligned;
            this.slots = new long[capacity];
        }

        @Override
        void alloc(int slot, int size) {
            try {
                slots[slot] = (long) malloc.invokeExact((long) size);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        @Override
        void free(int slot) {
            try {
                free.invokeExact(slots[slot]);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        /** free() of an address (the producer/consumer's consumer). */
        void freeAddress(long a) {
            try {
                free.invokeExact(a);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        long mallocAddress(int size) {
            try {
                return (long) malloc.invokeExact((long) size);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        @Override
        long address(int slot) {
            return slots[slot];
        }

        @Override
        void allocPages(int slot, int order) {
            try {
                slots[slot] = (long) aligned.invokeExact(4096L, 4096L << order);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        @Override
        void freePages(int slot, int order) {
            free(slot);
        }

        @Override
        boolean produce(SpscRing ring, int size, Control control) {
            long a = mallocAddress(size);
            if (offer(ring, a, null, control)) {
                return true;
            }
            freeAddress(a);
            return false;
        }

        @Override
        boolean consume(SpscRing ring) {
            int i = ring.peek();
            if (i < 0) {
                return false;
            }
            freeAddress(ring.addr(i));
            ring.advance();
            return true;
        }
    }

    static final class Netty extends Alloc {
        final PooledByteBufAllocator alloc;
        final ByteBuf[] slots;

        Netty(int capacity) {
            this.alloc = newAllocator();
            this.slots = new ByteBuf[capacity];
        }

        static PooledByteBufAllocator newAllocator() {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
            return new PooledByteBufAllocator(true, PooledByteBufAllocator.defaultNumHeapArena(),
                    PooledByteBufAllocator.defaultNumDirectArena(), PooledByteBufAllocator.defaultPageSize(),
                    PooledByteBufAllocator.defaultMaxOrder(), PooledByteBufAllocator.defaultSmallCacheSize(),
                    PooledByteBufAllocator.defaultNormalCacheSize(), true);
        }

        @Override
        void alloc(int slot, int size) {
            slots[slot] = alloc.directBuffer(size);
        }

        @Override
        void free(int slot) {
            slots[slot].release();
            slots[slot] = null;
        }

        @Override
        long address(int slot) {
            ByteBuf b = slots[slot];
            return b == null ? 0 : b.memoryAddress();
        }

        @Override
        void allocPages(int slot, int order) {
            alloc(slot, 4096 << order);
        }

        @Override
        void freePages(int slot, int order) {
            free(slot);
        }
    
        @Override
        boolean produce(SpscRing ring, int size, Control control) {
            ByteBuf b = alloc.directBuffer(size);
            if (offer(ring, 0, b, control)) {
                return true;
            }
            b.release();
            return false;
        }

        @Override
        boolean consume(SpscRing ring) {
            int i = ring.peek();
            if (i < 0) {
                return false;
            }
            ((ByteBuf) ring.obj(i)).release();
            ring.advance();
            return true;
        }
    }
}
