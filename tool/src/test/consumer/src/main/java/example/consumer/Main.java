package example.consumer;

import io.kmem.MemoryPool;
import io.kmem.gfp.Gfp;
import java.lang.foreign.ValueLayout;

/** A driver's first steps: a pool, a kmalloc, a write and a read, a kfree. */
public final class Main {
    public static void main(String[] args) {
        try (MemoryPool pool = MemoryPool.builder().name("consumer").smallPages(4L << 20).unprivileged().build()) {
            long p = pool.kmalloc(100, Gfp.GFP_KERNEL);
            pool.segment(p, 100).set(ValueLayout.JAVA_LONG, 0, 0x6b6d656dL);
            long back = pool.segment(p, 100).get(ValueLayout.JAVA_LONG, 0);
            String cache = pool.kmem_obj_info(p).cache();
            pool.kfree(p);
            System.out.println("consumer: " + (Main.class.getModule().isNamed() ? "module " + Main.class.getModule()
                    .getName() : "class path") + ", kmem " + (MemoryPool.class.getModule().isNamed() ? "module "
                    + MemoryPool.class.getModule().getName() : "on the class path") + ", kmalloc(100) from " + cache
                    + ", read back 0x" + Long.toHexString(back));
        }
    }
}
