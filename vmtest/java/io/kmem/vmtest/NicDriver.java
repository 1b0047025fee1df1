package io.kmem.vmtest;

import io.kmem.MemoryPool;
import io.kmem.PciDev;
import io.kmem.example.virtionet.VirtioNet;
import io.kmem.stats.DmaStats;
import io.kmem.stats.FrameVerification;
import io.kmem.stats.LiveAllocation;
import io.kmem.stats.MisuseStats;
import io.kmem.stats.SlabCacheStats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;

/**
 * The proof of the example NIC driver ({@code examples/virtio-net}), run in the guest of
 * {@code tools/vm-test nic}: two virtio-net devices joined by a QEMU hub, each driven by
 * {@link VirtioNet} on one kmem pool. Each NIC sends a frame of every size from 60 to 1514
 * bytes to the other, both directions at once; every frame carries a direction, a sequence
 * number and its length, and its payload is a function of them, so the receiver checks every
 * byte and matches frames by sequence number, not by order of arrival. Frames in flight are
 * kept below the receive ring's size (the driver's flow control); frames missing at the end
 * are counted and reported, and fail the test.
 *
 * <p>Then both NICs are removed and the pool must be as it was: {@code verify()} clean, no
 * live allocation ({@code kmemleak()} empty), every streaming mapping undone, no misuse.
 */
public final class NicDriver {
    private static final long MIB = 1 << 20;
    /** IEEE 802 "local experimental" EtherType 1. */
    private static final int ETHERTYPE = 0x88b5;
    private static final int MIN = 60;
    private static final int MAX = VirtioNet.MAX_FRAME;
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final long t0 = System.nanoTime();
    private int checks;

    public static void main(String[] args) {
        NicDriver driver = new NicDriver();
        try {
            driver.run();
            verdict("PASS: %d checks, %d ms in the driver", driver.checks, (System.nanoTime() - driver.t0) / 1_000_000);
            System.exit(0);
        } catch (Throwable t) {
            verdict("FAIL: %s", t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    /** One receiving side: which sequence numbers arrived, and what was wrong with any frame. */
    private final class Receiver implements VirtioNet.FrameSink {
        final String name;
        final int dir;
        final BitSet seen = new BitSet();
        volatile byte[] mac;
        volatile byte[] peerMac;
        volatile int received;
        int duplicates;
        volatile String firstError;

        Receiver(String name, int dir) {
            this.name = name;
            this.dir = dir;
        }

        @Override
        public synchronized void receive(MemorySegment f) {
            String why = check(f);
            if (why != null) {
                if (firstError == null) {
                    firstError = name + ": " + why;
                }
                return;
            }
            int seq = f.get(BE32, 18);
            if (seen.get(seq)) {
                duplicates++;
            }
            seen.set(seq);
            received++;
        }

        private String check(MemorySegment f) {
            long len = f.byteSize();
            if (len < MIN) {
                return "a frame of " + len + " bytes";
            }
            for (int i = 0; i < 6; i++) {
                if (f.get(ValueLayout.JAVA_BYTE, i) != mac[i] || f.get(ValueLayout.JAVA_BYTE, 6 + i) != peerMac[i]) {
                    return "a frame not from the peer to this NIC: " + hex(f, 0, 12);
                }
            }
            int type = Short.toUnsignedInt(f.get(BE16, 12));
            int d = Short.toUnsignedInt(f.get(BE16, 14));
            int size = Short.toUnsignedInt(f.get(BE16, 16));
            int seq = f.get(BE32, 18);
            if (type != ETHERTYPE || d != dir || size != len || seq < 0 || seq > MAX - MIN) {
                return String.format("header: type 0x%04x dir %d size %d seq %d, frame of %d bytes (expected type 0x%04x"
                        + " dir %d)", type, d, size, seq, len, ETHERTYPE, dir);
            }
            for (int i = 22; i < len; i++) {
                byte want = pattern(dir, seq, i);
                byte got = f.get(ValueLayout.JAVA_BYTE, i);
                if (got != want) {
                    return String.format("seq %d (%d bytes): byte %d is 0x%02x, expected 0x%02x", seq, len, i, got, want);
                }
            }
            return null;
        }
    }

    private static byte pattern(int dir, int seq, int i) {
        return (byte) (seq * 31 + i * 7 + dir * 101);
    }

    private static void frame(MemorySegment f, byte[] dst, byte[] src, int dir, int seq, int len) {
        MemorySegment.copy(dst, 0, f, ValueLayout.JAVA_BYTE, 0, 6);
        MemorySegment.copy(src, 0, f, ValueLayout.JAVA_BYTE, 6, 6);
        f.set(BE16, 12, (short) ETHERTYPE);
        f.set(BE16, 14, (short) dir);
        f.set(BE16, 16, (short) len);
        f.set(BE32, 18, seq);
        for (int i = 22; i < len; i++) {
            f.set(ValueLayout.JAVA_BYTE, i, pattern(dir, seq, i));
        }
    }

    private void run() throws Exception {
        say("start: %s, Java %s", Files.readString(Path.of("/proc/version")).strip(), Runtime.version());
        try (MemoryPool pool = MemoryPool.builder().name("nic").smallPages(16 * MIB).build()) {
            say("pool: %s", pool);
            PciDev a = pool.pci_get_device(VirtioNet.VENDOR, VirtioNet.DEVICE, null);
            PciDev b = a == null ? null : pool.pci_get_device(VirtioNet.VENDOR, VirtioNet.DEVICE, a);
            check(a != null && b != null, "two virtio-net devices (0x%04x:0x%04x) found: %s, %s (is QEMU started with two"
                    + " virtio-net-pci,disable-legacy=on?)", VirtioNet.VENDOR, VirtioNet.DEVICE, a, b);
            // 1. Physical addresses, polling: the functions bound to no driver.
            transfer(pool, a, b, VirtioNet.Mode.POLLING, "physical addresses, polling");
            // 2. Physical addresses, interrupts: INTx through uio_pci_generic.
            bind(a, "uio_pci_generic");
            bind(b, "uio_pci_generic");
            transfer(pool, a, b, VirtioNet.Mode.INTERRUPTS, "physical addresses, UIO INTx");
            afterRemove(pool);
            // 3. I/O virtual addresses: both functions bound to vfio-pci and opened through VFIO;
            // the NICs see only what the pool mapped for them, interrupts are MSI-X.
            bind(a, "vfio-pci");
            bind(b, "vfio-pci");
            PciDev va = pool.vfio_open(a.name());
            PciDev vb = pool.vfio_open(b.name());
            transfer(pool, va, vb, VirtioNet.Mode.INTERRUPTS, "VFIO IOVAs, MSI-X");
            transfer(pool, va, vb, VirtioNet.Mode.POLLING, "VFIO IOVAs, polling");
            pool.vfio_close(va);
            pool.vfio_close(vb);
            afterRemove(pool);
        }
    }

    /** Binds {@code pdev} to {@code driver} as an administrator does once: driver_override, then a probe. */
    private void bind(PciDev pdev, String driver) throws java.io.IOException {
        Path dir = Path.of("/sys/bus/pci/devices", pdev.name());
        if (Files.exists(dir.resolve("driver"))) {
            Files.writeString(dir.resolve("driver/unbind"), pdev.name());
        }
        Files.writeString(dir.resolve("driver_override"), driver);
        Files.writeString(Path.of("/sys/bus/pci/drivers_probe"), pdev.name());
        Path bound = dir.resolve("driver");
        String now = Files.exists(bound) ? Files.readSymbolicLink(bound).getFileName().toString() : "none";
        check(now.equals(driver), "%s bound to %s (driver now: %s)", pdev.name(), driver, now);
        say("%s bound to %s (IOMMU group %s)", pdev.name(), driver,
                Files.readSymbolicLink(dir.resolve("iommu_group")).getFileName());
    }

    /** Both NICs up, frames of every size both ways, both NICs removed. */
    private void transfer(MemoryPool pool, PciDev a, PciDev b, VirtioNet.Mode how, String mode) {
        Receiver atA = new Receiver("A", 1);
        Receiver atB = new Receiver("B", 0);
        try (VirtioNet nicA = VirtioNet.probe(pool, a, atA, how); VirtioNet nicB = VirtioNet.probe(pool, b, atB, how)) {
            for (VirtioNet n : List.of(nicA, nicB)) {
                say("%s: features 0x%x, rings rx %d tx %d, link %s; %s", n, n.features(), n.rxRingSize(),
                        n.txRingSize(), n.linkUp() ? "up" : "down", n.capabilities());
                check(n.linkUp(), "%s: link up", n);
            }
            atA.mac = nicA.mac();
            atA.peerMac = nicB.mac();
            atB.mac = nicB.mac();
            atB.peerMac = nicA.mac();
            int frames = MAX - MIN + 1;
            int window = Math.min(nicA.rxRingSize(), nicB.rxRingSize()) / 2;
            long t = System.nanoTime();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment f = arena.allocate(MAX);
                int sentAB = 0;
                int sentBA = 0;
                long lastProgress = System.nanoTime();
                int lastTotal = 0;
                while (atB.received + atA.received < 2 * frames) {
                    if (sentAB < frames && sentAB - atB.received < window) {
                        int len = MIN + sentAB;
                        frame(f, nicB.mac(), nicA.mac(), 0, sentAB, len);
                        if (nicA.xmit(f.asSlice(0, len))) {
                            sentAB++;
                        }
                    }
                    if (sentBA < frames && sentBA - atA.received < window) {
                        int len = MIN + sentBA;
                        frame(f, nicA.mac(), nicB.mac(), 1, sentBA, len);
                        if (nicB.xmit(f.asSlice(0, len))) {
                            sentBA++;
                        }
                    }
                    if (how == VirtioNet.Mode.POLLING) {
                        nicA.poll(64);
                        nicB.poll(64);
                    } else {
                        Thread.onSpinWait();
                    }
                    int total = atA.received + atB.received;
                    if (total != lastTotal) {
                        lastTotal = total;
                        lastProgress = System.nanoTime();
                    } else if (System.nanoTime() - lastProgress > 10_000_000_000L) {
                        break;   // nothing arrived for 10 s: what is missing is reported below
                    }
                    if (atA.firstError != null || atB.firstError != null) {
                        break;
                    }
                }
                long ns = System.nanoTime() - t;
                nicA.reclaimTx();
                nicB.reclaimTx();
                check(atA.firstError == null && atB.firstError == null, "%s: every frame byte-exact: %s %s", mode,
                        atA.firstError, atB.firstError);
                for (Receiver r : List.of(atB, atA)) {
                    synchronized (r) {
                    int missing = frames - r.seen.cardinality();
                    check(missing == 0 && r.duplicates == 0, "%s: at %s, %d of %d frames arrived, %d missing (first"
                            + " %d), %d duplicates", mode, r.name, r.seen.cardinality(), frames, missing,
                            r.seen.nextClearBit(0), r.duplicates);
                    checks += frames;
                    }
                }
                for (VirtioNet n : List.of(nicA, nicB)) {
                    VirtioNet.Stats s = n.stats();
                    check(s.txFrames() == frames && s.txDone() == frames && s.rxFrames() == frames && s.rxDropped() == 0,
                            "%s: stats %s", n, s);
                    say("%s: %s", n, s);
                }
                double secs = ns / 1e9;
                long irqs = nicA.stats().irqs() + nicB.stats().irqs();
                if (how == VirtioNet.Mode.INTERRUPTS) {
                    String report = pool.interrupts().strip();
                    check(irqs > 0 && report.endsWith(": 0 reports"), "%s: interrupts taken (%d), none reported a"
                            + " sleeping function in atomic context:%n%s", mode, irqs, report);
                    say("%s: the pool's interrupts:%n%s", mode, report);
                }
                say("%s: %d frames of 60..1514 bytes each way, every byte checked, none lost: %.1f s, %.0f frames/s"
                        + " (both directions), %.1f MB/s, %.0f interrupts/s (%s)", mode, frames, secs, 2 * frames / secs,
                        2.0 * nicA.stats().txBytes() / secs / 1e6, irqs / secs,
                        how == VirtioNet.Mode.POLLING ? "polling" : nicA.msix() ? "MSI-X" : "INTx");
            }
        }
    }

    private void afterRemove(MemoryPool pool) {
        FrameVerification v = pool.verify();
        check(v.ok(), "verify after both NICs were removed: %s", v);
        List<LiveAllocation> live = pool.kmemleak();
        check(live.isEmpty(), "no live allocation after both NICs were removed: %s", live);
        DmaStats dma = pool.mxBean().getDma();
        check(dma.streamingMaps() == dma.streamingUnmaps() && dma.coherentBuffers() == 0 && dma.mapErrors() == 0,
                "every DMA mapping undone, no coherent buffer left: %s", dma);
        MisuseStats misuse = pool.mxBean().getMisuses();
        check(misuse.total() == 0, "no misuse reported: %s", misuse);
        for (SlabCacheStats c : pool.slabStats()) {
            check(!c.name().startsWith("virtio-net"), "cache %s destroyed", c.name());
        }
        say("removed: verify ok (%d frames), kmemleak empty, %d streaming mappings made and undone, no misuse",
                v.framesChecked(), dma.streamingMaps());
    }

    private static String hex(MemorySegment f, long off, long n) {
        StringBuilder sb = new StringBuilder();
        for (long i = off; i < off + n && i < f.byteSize(); i++) {
            sb.append(String.format("%02x", f.get(ValueLayout.JAVA_BYTE, i)));
        }
        return sb.toString();
    }

    private void check(boolean ok, String format, Object... args) {
        if (!ok) {
            throw new AssertionError(String.format(format, args));
        }
        checks++;
    }

    private static final long START = System.nanoTime();

    /** The last line, which tools/vm-test looks for at the start of a line. */
    private static void verdict(String format, Object... args) {
        System.out.println("kmem-vmtest: " + String.format(format, args));
        System.out.flush();
    }

    private static void say(String format, Object... args) {
        System.out.println(String.format("kmem-vmtest: [%6d ms] ", (System.nanoTime() - START) / 1_000_000)
                + String.format(format, args));
        System.out.flush();
    }
}
