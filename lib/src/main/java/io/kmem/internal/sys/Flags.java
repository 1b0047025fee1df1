package io.kmem.internal.sys;

import io.kmem.bindings.Libc;

/**
 * Renders the flag words of the calls {@link Sys} wraps by their C names
 * ({@code MAP_SHARED|MAP_FIXED}), for exception messages only: nothing here is on a success
 * path. Bits without a name here are appended in hex.
 */
final class Flags {

    /** hugetlb page size field of mmap and memfd_create flags: log2(size) in bits 26..31. */
    private static final int HUGETLB_SIZE_SHIFT = 26;
    private static final int HUGETLB_SIZE_MASK = 0x3f << HUGETLB_SIZE_SHIFT;

    private static final int[] PROT = {Libc.PROT_READ(), Libc.PROT_WRITE()};
    private static final String[] PROT_NAMES = {"PROT_READ", "PROT_WRITE"};

    private static final int[] MAP = {Libc.MAP_SHARED(), Libc.MAP_PRIVATE(), Libc.MAP_FIXED(),
            Libc.MAP_FIXED_NOREPLACE(), Libc.MAP_ANONYMOUS(), Libc.MAP_NORESERVE(), Libc.MAP_POPULATE(),
            Libc.MAP_LOCKED(), Libc.MAP_HUGETLB()};
    private static final String[] MAP_NAMES = {"MAP_SHARED", "MAP_PRIVATE", "MAP_FIXED",
            "MAP_FIXED_NOREPLACE", "MAP_ANONYMOUS", "MAP_NORESERVE", "MAP_POPULATE",
            "MAP_LOCKED", "MAP_HUGETLB"};

    private static final int[] MREMAP = {Libc.MREMAP_MAYMOVE(), Libc.MREMAP_FIXED()};
    private static final String[] MREMAP_NAMES = {"MREMAP_MAYMOVE", "MREMAP_FIXED"};

    private static final int[] MFD = {Libc.MFD_CLOEXEC(), Libc.MFD_ALLOW_SEALING(), Libc.MFD_HUGETLB()};
    private static final String[] MFD_NAMES = {"MFD_CLOEXEC", "MFD_ALLOW_SEALING", "MFD_HUGETLB"};

    private static final int[] OPEN = {Libc.O_CLOEXEC(), Libc.O_SYNC()};
    private static final String[] OPEN_NAMES = {"O_CLOEXEC", "O_SYNC"};
    private static final int O_ACCMODE = 3;

    private static final int[] FALLOC = {Libc.FALLOC_FL_KEEP_SIZE(), Libc.FALLOC_FL_PUNCH_HOLE()};
    private static final String[] FALLOC_NAMES = {"FALLOC_FL_KEEP_SIZE", "FALLOC_FL_PUNCH_HOLE"};

    private static final int[] SEALS = {Libc.F_SEAL_SEAL(), Libc.F_SEAL_SHRINK(), Libc.F_SEAL_GROW(),
            Libc.F_SEAL_WRITE()};
    private static final String[] SEAL_NAMES = {"F_SEAL_SEAL", "F_SEAL_SHRINK", "F_SEAL_GROW", "F_SEAL_WRITE"};

    private static final int[] ADVICE = {Libc.MADV_DONTNEED(), Libc.MADV_REMOVE(), Libc.MADV_DONTFORK(),
            Libc.MADV_HUGEPAGE(), Libc.MADV_NOHUGEPAGE(), Libc.MADV_POPULATE_WRITE(), Sys.MADV_GUARD_INSTALL};
    private static final String[] ADVICE_NAMES = {"MADV_DONTNEED", "MADV_REMOVE", "MADV_DONTFORK",
            "MADV_HUGEPAGE", "MADV_NOHUGEPAGE", "MADV_POPULATE_WRITE", "MADV_GUARD_INSTALL"};

    private static final int[] FCNTL = {Libc.F_ADD_SEALS(), Libc.F_GET_SEALS()};
    private static final String[] FCNTL_NAMES = {"F_ADD_SEALS", "F_GET_SEALS"};

    private Flags() {
    }

    static String prot(int prot) {
        return prot == Libc.PROT_NONE() ? "PROT_NONE" : bits(prot, PROT, PROT_NAMES);
    }

    static String mmap(int flags) {
        return withHugeSize(bits(flags & ~HUGETLB_SIZE_MASK, MAP, MAP_NAMES), flags, "MAP_HUGE_");
    }

    static String mremap(int flags) {
        return bits(flags, MREMAP, MREMAP_NAMES);
    }

    static String memfd(int flags) {
        return withHugeSize(bits(flags & ~HUGETLB_SIZE_MASK, MFD, MFD_NAMES), flags, "MFD_HUGE_");
    }

    static String open(int flags) {
        int mode = flags & O_ACCMODE;
        String access = mode == Libc.O_RDONLY() ? "O_RDONLY"
                : mode == Libc.O_WRONLY() ? "O_WRONLY"
                : mode == Libc.O_RDWR() ? "O_RDWR" : "O_ACCMODE=" + mode;
        int rest = flags & ~O_ACCMODE;
        return rest == 0 ? access : access + "|" + bits(rest, OPEN, OPEN_NAMES);
    }

    static String fallocate(int mode) {
        return bits(mode, FALLOC, FALLOC_NAMES);
    }

    static String seals(int seals) {
        return bits(seals, SEALS, SEAL_NAMES);
    }

    static String madvise(int advice) {
        return oneOf(advice, ADVICE, ADVICE_NAMES);
    }

    static String fcntl(int cmd) {
        return oneOf(cmd, FCNTL, FCNTL_NAMES);
    }

    /** The hugetlb page size encoded in mmap or memfd_create flags, or 0 for the default size. */
    static long hugetlbPageSize(int flags) {
        int log2 = (flags & HUGETLB_SIZE_MASK) >>> HUGETLB_SIZE_SHIFT;
        return log2 == 0 ? 0 : 1L << log2;
    }

    private static String withHugeSize(String rendered, int flags, String prefix) {
        int encoded = flags & HUGETLB_SIZE_MASK;
        if (encoded == 0) {
            return rendered;
        }
        // MAP_HUGE_2MB and MFD_HUGE_2MB are the same encoding (linux/hugetlb_encode.h).
        String size = encoded == Libc.MFD_HUGE_2MB() ? "2MB"
                : encoded == Libc.MFD_HUGE_1GB() ? "1GB"
                : "2^" + (encoded >>> HUGETLB_SIZE_SHIFT) + "B";
        return (rendered.equals("0") ? "" : rendered + "|") + prefix + size;
    }

    private static String bits(int value, int[] bits, String[] names) {
        if (value == 0) {
            return "0";
        }
        StringBuilder sb = new StringBuilder();
        int rest = value;
        for (int i = 0; i < bits.length; i++) {
            if ((rest & bits[i]) == bits[i] && bits[i] != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(names[i]);
                rest &= ~bits[i];
            }
        }
        if (rest != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("0x").append(Integer.toHexString(rest));
        }
        return sb.toString();
    }

    private static String oneOf(int value, int[] values, String[] names) {
        for (int i = 0; i < values.length; i++) {
            if (values[i] == value) {
                return names[i];
            }
        }
        return Integer.toString(value);
    }
}
