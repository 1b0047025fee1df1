package io.kmem.internal.slub;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * SLUB's debugging ({@code mm/slub.c}, {@code slub_debug=FZPU}): red zones, poisoning,
 * consistency checks and allocation tracking for a debug cache, and the reports in the
 * kernel's shape.
 *
 * <pre>
 *  debug object layout (SLAB_RED_ZONE | SLAB_POISON), one stride of KmemCacheImpl.size bytes:
 *  | left red zone | object (objectSize)          | right red zone | free pointer | pad |
 *  | 0xbb / 0xcc   | free: 0x6b ... 0x6b 0xa5     | 0xbb / 0xcc    | next object  |     |
 *  |               | allocated: 0x5a ... (poison) |                |              |     |
 *  red zones read 0xbb (SLUB_RED_INACTIVE) while the object is free, 0xcc (SLUB_RED_ACTIVE)
 *  while it is allocated; the slab's tail after the last object reads 0x5a (POISON_INUSE)
 *
 *  kmalloc(18) from kmalloc-32, allocated, with red zones (SLUB's orig_size, Slab.requested):
 *  | left red zone | 18 bytes asked for | 0xcc x 14: kmalloc red zone | right red zone | ...
 * </pre>
 * Checks run under the cache's lock: at allocation the free object's poison and red zones
 * (a write after free is found here), at free the allocated object's red zones (an
 * overflow is found here), and everything in {@link #validate}. Each finding is reported and
 * fixed up (bytes restored), as the kernel does, so that the allocator goes on.
 */
final class SlubDebug {
    static final byte POISON_INUSE = 0x5a;
    static final byte POISON_FREE = 0x6b;
    static final byte POISON_END = (byte) 0xa5;
    static final byte RED_INACTIVE = (byte) 0xbb;
    static final byte RED_ACTIVE = (byte) 0xcc;
    private static final int DUMP_MAX = 128;
    private static final int STACK_DEPTH = 12;
    /** In {@link Slab#requested}: the allocation was zeroed ({@code __GFP_ZERO}). */
    private static final int ZEROED = 1 << 31;

    private SlubDebug() {
    }

    /** Who allocated or freed an object, and when (SLAB_STORE_USER). */
    record Track(long tid, String thread, long nanos, StackTraceElement[] stack) {
        static Track now() {
            StackTraceElement[] all = new Throwable().getStackTrace();
            int k = 0;
            while (k < all.length && internal(all[k].getClassName())) {
                k++;
            }
            Thread t = Thread.currentThread();
            return new Track(t.threadId(), t.getName(), System.nanoTime(),
                    Arrays.copyOfRange(all, k, Math.min(all.length, k + STACK_DEPTH)));
        }

        private static final java.util.Set<String> INTERNAL = java.util.Set.of(SlubDebug.class.getName(),
                KmemCacheImpl.class.getName(), SlabAllocator.class.getName(), Slab.class.getName(), Track.class.getName(),
                "io.kmem.MemoryPool");

        private static boolean internal(String cls) {
            return INTERNAL.contains(cls);
        }
    }

    private static boolean poisons(KmemCacheImpl c) {
        return (c.flags & KmemCacheImpl.SLAB_POISON) != 0 && c.ctor == null;
    }

    private static boolean redZones(KmemCacheImpl c) {
        return (c.flags & KmemCacheImpl.SLAB_RED_ZONE) != 0;
    }

    private static MemorySegment dm(KmemCacheImpl c) {
        return c.sa.phys.directMap();
    }

    private static long at(KmemCacheImpl c, long addr) {
        return addr - c.sa.phys.directBase();
    }

    private static void fill(KmemCacheImpl c, long addr, long len, byte v) {
        if (len > 0) {
            dm(c).asSlice(at(c, addr), len).fill(v);
        }
    }

    private static byte get(KmemCacheImpl c, long addr) {
        return dm(c).get(ValueLayout.JAVA_BYTE, at(c, addr));
    }

    // ================================================================== object states

    static void initFree(KmemCacheImpl c, long obj) {
        setRedZones(c, obj, RED_INACTIVE);
        if (poisons(c)) {
            fill(c, obj, c.objectSize - 1, POISON_FREE);
            fill(c, obj + c.objectSize - 1, 1, POISON_END);
        }
    }

    private static void setRedZones(KmemCacheImpl c, long obj, byte v) {
        if (redZones(c)) {
            fill(c, obj - c.redLeftPad, c.redLeftPad, v);
            fill(c, obj + c.objectSize, c.inuse - c.objectSize, v);
        }
    }

    static void initPadding(KmemCacheImpl c, Slab s) {
        if (poisons(c)) {
            long end = s.base + s.bytes();
            long pad = s.base + (long) c.objects * c.size;
            fill(c, pad, end - pad, POISON_INUSE);
        }
    }

    static void initAllocated(KmemCacheImpl c, Slab s, int i, boolean zeroing, int requested) {
        long obj = s.object(i);
        setRedZones(c, obj, RED_ACTIVE);
        if (poisons(c) && !zeroing) {
            fill(c, obj, c.objectSize, POISON_INUSE);
        }
        s.requested[i] = zeroing ? requested | ZEROED : requested;
        if (redZones(c)) {
            fill(c, obj + requested, c.objectSize - requested, RED_ACTIVE);
        }
        if (s.tracks != null) {
            s.tracks[2 * i] = Track.now();
        }
    }

    /** The bytes kmalloc (or krealloc) was asked for in object {@code i} of a debug cache. */
    static int requested(Slab s, int i) {
        return s.requested[i] & ~ZEROED;
    }

    /**
     * krealloc in place: the caller now asks for {@code requested} bytes (zeroed past the old
     * size when {@code zeroing}); with red zones the bytes from there to the object size
     * become the kmalloc red zone (0xcc).
     */
    static void setRequested(KmemCacheImpl c, Slab s, int i, int requested, boolean zeroing) {
        s.requested[i] = requested | (zeroing ? ZEROED : s.requested[i] & ZEROED);
        if (redZones(c)) {
            fill(c, s.object(i) + requested, c.objectSize - requested, RED_ACTIVE);
        }
    }

    /**
     * ksize: the caller may use the whole object (SLUB's skip_orig_size_check). The kmalloc
     * red zone is lifted, its bytes reading as the allocation left the rest: zero after
     * {@code __GFP_ZERO} (so kzalloc plus ksize gives zeroes throughout), else 0x5a when
     * poisoning.
     */
    static void wholeObject(KmemCacheImpl c, Slab s, int i) {
        int req = requested(s, i);
        boolean zeroed = (s.requested[i] & ZEROED) != 0;
        s.requested[i] = c.objectSize | (zeroed ? ZEROED : 0);
        if (redZones(c) && req < c.objectSize && (zeroed || poisons(c))) {
            fill(c, s.object(i) + req, c.objectSize - req, zeroed ? 0 : POISON_INUSE);
        }
    }

    static void initFreed(KmemCacheImpl c, Slab s, int i) {
        long obj = s.object(i);
        setRedZones(c, obj, RED_INACTIVE);
        if (poisons(c)) {
            fill(c, obj, c.objectSize - 1, POISON_FREE);
            fill(c, obj + c.objectSize - 1, 1, POISON_END);
        }
        if (s.tracks != null) {
            s.tracks[2 * i + 1] = Track.now();
        }
    }

    // ================================================================== checks

    /** At allocation: a free object's red zones and poison. Reports and restores. */
    static void checkFree(KmemCacheImpl c, Slab s, int i) {
        for (String r : checkObject(c, s, i, false, true)) {
            c.sa.report(r);
        }
    }

    /** At free: an allocated object's red zones. Reports and restores. */
    static void checkAllocated(KmemCacheImpl c, Slab s, int i) {
        for (String r : checkObject(c, s, i, true, true)) {
            c.sa.report(r);
        }
    }

    private static List<String> checkObject(KmemCacheImpl c, Slab s, int i, boolean allocated, boolean fix) {
        List<String> out = new ArrayList<>();
        long obj = s.object(i);
        byte red = allocated ? RED_ACTIVE : RED_INACTIVE;
        if (redZones(c)) {
            check(c, s, i, "Left Redzone overwritten", "Redzone", obj - c.redLeftPad, c.redLeftPad, red, fix, out);
            check(c, s, i, "Right Redzone overwritten", "Redzone", obj + c.objectSize, c.inuse - c.objectSize, red, fix,
                    out);
            int req = requested(s, i);
            if (allocated && req < c.objectSize) {
                check(c, s, i, "kmalloc Redzone overwritten", "kmalloc Redzone", obj + req, c.objectSize - req, red,
                        fix, out);
            }
        }
        if (!allocated && poisons(c)) {
            int before = out.size();
            check(c, s, i, "Poison overwritten", "Poison", obj, c.objectSize - 1, POISON_FREE, fix, out);
            if (out.size() == before) {
                check(c, s, i, "Poison overwritten", "Poison", obj + c.objectSize - 1, 1, POISON_END, fix, out);
            }
        }
        return out;
    }

    /** SLUB's check_bytes_and_report: the first and last wrong byte of a range that should read {@code v}. */
    private static void check(KmemCacheImpl c, Slab s, int i, String reason, String what, long from, long len, byte v,
                              boolean fix, List<String> out) {
        long first = -1;
        long last = -1;
        for (long a = from; a < from + len; a++) {
            if (get(c, a) != v) {
                if (first < 0) {
                    first = a;
                }
                last = a;
            }
        }
        if (first < 0) {
            return;
        }
        String detail = String.format("0x%x-0x%x @offset=%d. First byte 0x%02x instead of 0x%02x", first, last,
                first - s.base, get(c, first) & 0xff, v & 0xff);
        String fixed = fix ? String.format("Restoring %s 0x%x-0x%x=0x%02x", what, first, last, v & 0xff) : null;
        out.add(bug(c, reason, s, i, detail, fixed));
        if (fix) {
            fill(c, first, last - first + 1, v);
        }
    }

    /**
     * SLUB's validate for one slab: free list, counts, every object's bytes, the padding.
     * Repairs as SLUB's on_freelist does: a free list whose head is not a free object is
     * dropped (every object counted in use); a bad pointer further on ends the list at the
     * object holding it ("Freechain corrupt"); a wrong in-use count is set to what was
     * counted ("Object count adjusted"). So the same damage is reported once, and a pointer
     * restored meanwhile is seen as a count to adjust once more. The caller fixes the
     * partial list if the slab's free list changed.
     */
    static List<String> validate(KmemCacheImpl c, Slab s) {
        List<String> out = new ArrayList<>();
        int n = 0;
        long prev = 0;
        for (long o = s.freelist; o != 0; o = c.sa.phys.directMap().get(ValueLayout.JAVA_LONG_UNALIGNED,
                at(c, o) + c.offset)) {
            int i = s.indexOf(o);
            if (i < 0 || s.state(i) != Slab.FREE || n > c.objects) {
                if (prev == 0) {
                    out.add(bug(c, "Freepointer corrupt", s, -1, String.format("Freepointer 0x%x is not a free"
                            + " object of this slab (a write after free?)", o), "Freelist cleared"));
                    s.freelist = 0;
                    s.inuse = c.objects;
                    return out;
                }
                out.add(bug(c, "Freechain corrupt", s, s.indexOf(prev), String.format("Free pointer 0x%x of object"
                        + " 0x%x is not a free object of this slab (a write after free?)", o, prev), null));
                c.sa.phys.directMap().set(ValueLayout.JAVA_LONG_UNALIGNED, at(c, prev) + c.offset, 0L);
                break;
            }
            n++;
            prev = o;
        }
        if (s.frozen == null && n != c.objects - s.inuse) {
            out.add(bug(c, "Wrong object count", s, -1, "Counter is " + s.inuse + " but counted were "
                    + (c.objects - n), "Object count adjusted"));
            s.inuse = c.objects - n;
        }
        if (c.debug) {
            for (int i = 0; i < c.objects; i++) {
                out.addAll(checkObject(c, s, i, s.state(i) == Slab.ALLOCATED, true));
            }
            if (poisons(c)) {
                long pad = s.base + (long) c.objects * c.size;
                List<String> p = new ArrayList<>();
                check(c, s, -1, "Padding overwritten", "Padding", pad, s.base + s.bytes() - pad, POISON_INUSE, true, p);
                out.addAll(p);
            }
        }
        return out;
    }

    // ================================================================== reports

    static String freelistCorrupt(KmemCacheImpl c, Slab s, long ptr) {
        return bug(c, "Freepointer corrupt", s, -1, String.format("Freepointer 0x%x is not a free object of this slab"
                + " (a write after free?)", ptr), "Isolating the rest of the slab's free list (objects leaked)");
    }

    static String invalidPointer(KmemCacheImpl c, Slab s, long addr) {
        return bug(c, "Invalid object pointer 0x" + Long.toHexString(addr), s, -1, String.format(
                "0x%x is byte %d of object %d", addr, (addr - s.objBase) % c.size, (addr - s.objBase) / c.size),
                "Object not freed");
    }

    static String alreadyFree(KmemCacheImpl c, Slab s, int i) {
        return bug(c, "Object already free", s, i, null, "Object not freed");
    }

    static String leak(KmemCacheImpl c, Slab s, int i) {
        long obj = s.object(i);
        StringBuilder sb = new StringBuilder(String.format("Object 0x%x @offset=%d", obj, obj - s.base));
        if (s.tracks != null && s.tracks[2 * i] != null) {
            sb.append('\n');
            track(sb, "Allocated", s.tracks[2 * i]);
        }
        return sb.toString();
    }

    /** The kernel's slab_bug + print_trailer, as one text. {@code i} -1: no particular object. */
    static String bug(KmemCacheImpl c, String reason, Slab s, int i, String detail, String fix) {
        StringBuilder sb = new StringBuilder();
        String rule = "=".repeat(77);
        sb.append(rule).append('\n').append("BUG ").append(c.name).append(" (Not tainted): ").append(reason).append('\n')
                .append("-".repeat(77)).append("\n\n");
        if (detail != null) {
            sb.append(detail).append('\n');
        }
        if (i >= 0 && s.tracks != null) {
            if (s.tracks[2 * i] != null) {
                track(sb, "Allocated", s.tracks[2 * i]);
            }
            if (s.tracks[2 * i + 1] != null) {
                track(sb, "Freed", s.tracks[2 * i + 1]);
            }
        }
        sb.append(String.format("Slab 0x%x pfn=0x%x objects=%d used=%d fp=0x%x flags=%s%n", s.base, s.pfn, c.objects,
                s.inuse, s.freelist, s.frozen != null ? "slab|frozen" : "slab"));
        if (i >= 0) {
            long obj = s.object(i);
            long fp = dm(c).get(ValueLayout.JAVA_LONG_UNALIGNED, at(c, obj) + c.offset);
            sb.append(String.format("Object 0x%x @offset=%d fp=0x%x%n%n", obj, obj - s.base, fp));
            if (c.redLeftPad > 0) {
                dump(c, sb, "Redzone  ", obj - c.redLeftPad, c.redLeftPad);
            }
            dump(c, sb, "Object   ", obj, c.objectSize);
            if (c.inuse > c.objectSize && redZones(c)) {
                dump(c, sb, "Redzone  ", obj + c.objectSize, c.inuse - c.objectSize);
            }
            long tail = c.size - c.redLeftPad - c.inuse;
            if (tail > 0) {
                dump(c, sb, "Padding  ", obj + c.inuse, tail);
            }
        }
        if (fix != null) {
            sb.append("FIX ").append(c.name).append(": ").append(fix).append('\n');
        }
        return sb.toString();
    }

    /** Object {@code i}'s allocating stack as the reports print it; null without SLAB_STORE_USER. */
    static String allocatedAt(Slab s, int i) {
        if (s.tracks == null || s.tracks[2 * i] == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder();
        track(sb, "Allocated", s.tracks[2 * i]);
        return sb.toString().stripTrailing();
    }

    private static void track(StringBuilder sb, String what, Track t) {
        StackTraceElement[] st = t.stack();
        sb.append(what).append(" in ").append(st.length > 0 ? st[0].toString() : "?").append(" age=")
                .append((System.nanoTime() - t.nanos()) / 1_000_000).append(" ms tid=").append(t.tid()).append(" thread=")
                .append(t.thread()).append('\n');
        for (int k = 1; k < st.length; k++) {
            sb.append(' ').append(st[k]).append('\n');
        }
    }

    /** The kernel's print_section: 16 bytes a line, hex then ASCII. */
    private static void dump(KmemCacheImpl c, StringBuilder sb, String label, long addr, long len) {
        long n = Math.min(len, DUMP_MAX);
        for (long off = 0; off < n; off += 16) {
            sb.append(label).append(String.format("%016x: ", addr + off));
            StringBuilder ascii = new StringBuilder();
            for (long k = off; k < off + 16; k++) {
                if (k < n) {
                    int b = get(c, addr + k) & 0xff;
                    sb.append(String.format("%02x ", b));
                    ascii.append(b >= 0x20 && b < 0x7f ? (char) b : '.');
                } else {
                    sb.append("   ");
                }
            }
            sb.append(' ').append(ascii).append('\n');
        }
        if (len > n) {
            sb.append(label).append("... ").append(len - n).append(" more bytes\n");
        }
    }
}
