package io.kmem.example.virtionet;

import io.kmem.IoMem;
import io.kmem.MemoryPool;
import io.kmem.PciDev;
import java.util.function.LongPredicate;

/** TEMPORARY: stand-ins for kmem helpers being added (pci_find_capability, readx_poll_timeout). */
final class Compat {
    private Compat() {
    }

    static int pci_find_capability(MemoryPool pool, PciDev dev, int cap) {
        if ((pool.pci_read_config_word(dev, 0x06) & 0x10) == 0) {
            return 0;
        }
        return walk(pool, dev, pool.pci_read_config_byte(dev, 0x34), cap);
    }

    static int pci_find_next_capability(MemoryPool pool, PciDev dev, int pos, int cap) {
        return walk(pool, dev, pool.pci_read_config_byte(dev, pos + 1), cap);
    }

    private static int walk(MemoryPool pool, PciDev dev, int pos, int cap) {
        for (int ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
            pos &= ~3;
            int id = pool.pci_read_config_byte(dev, pos);
            if (id == 0xff) {
                return 0;
            }
            if (id == cap) {
                return pos;
            }
            pos = pool.pci_read_config_byte(dev, pos + 1);
        }
        return 0;
    }

    static int readb_poll_timeout(IoMem io, long off, long[] last, LongPredicate cond, long sleepUs, long timeoutUs) {
        long deadline = System.nanoTime() + timeoutUs * 1000;
        for (;;) {
            long v = io.readb(off);
            last[0] = v;
            if (cond.test(v)) {
                return 0;
            }
            if (System.nanoTime() - deadline > 0) {
                v = io.readb(off);
                last[0] = v;
                return cond.test(v) ? 0 : -110;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(sleepUs * 1000);
        }
    }
}
