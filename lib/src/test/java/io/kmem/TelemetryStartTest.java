package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.gfp.Gfp;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.MBeanServerBuilder;
import javax.management.MBeanServerDelegate;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pool built before the process's platform MBean server is up does not wait for it: the
 * server's start (about 470 classes) happens on a thread of its own, and the MXBean appears
 * when it is done. Run in a child JVM, whose MBean server is made by {@link BlockingBuilder},
 * which holds the server's creation until the child lets it go: {@code build()} must return
 * meanwhile, and the pool must work.
 */
class TelemetryStartTest {

    @Test
    void aPoolBuiltBeforeTheMBeanServerIsUpDoesNotWaitForIt(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("child.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-Djavax.management.builder.initial=" + BlockingBuilder.class.getName(),
                "-cp", System.getProperty("java.class.path"), Child.class.getName())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean ended = p.waitFor(2, TimeUnit.MINUTES);
        if (!ended) {
            p.destroyForcibly().waitFor();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(ended, "the child did not end in 2 minutes (did build() wait for the MBean server?); its output:\n"
                + out);
        assertEquals(0, p.exitValue(), "the child's output:\n" + out);
        assertTrue(out.contains("PASS"), out);
    }

    /** Makes the MBean server only when the child releases it; records the thread that asked. */
    public static final class BlockingBuilder extends MBeanServerBuilder {
        static final CountDownLatch RELEASE = new CountDownLatch(1);
        static volatile String thread;

        @Override
        public MBeanServer newMBeanServer(String domain, MBeanServer outer, MBeanServerDelegate delegate) {
            thread = Thread.currentThread().getName();
            try {
                RELEASE.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return super.newMBeanServer(domain, outer, delegate);
        }
    }

    /** The child JVM: exits 0 after printing PASS, else with the first failed check. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            System.out.println("building late-mx with the MBean server's creation held");
            // build() returns although the server's creation is held (the old code waited here).
            MemoryPool late = MemoryPool.builder().name("late-mx").smallPages(4L << 20).unprivileged().build();
            System.out.println("built");
            long a = late.kmalloc(64, Gfp.GFP_KERNEL);
            check(a != 0, "kmalloc on the pool whose MXBean is still being registered returned NULL");
            late.kfree(a);
            for (int i = 0; i < 60_000 && BlockingBuilder.thread == null; i++) {
                Thread.sleep(1);
            }
            check("kmem-jmx late-mx".equals(BlockingBuilder.thread),
                    "the MBean server was asked for by " + BlockingBuilder.thread + ", not kmem-jmx late-mx");
            // A pool closed before its registration could finish leaves nothing registered.
            MemoryPool early = MemoryPool.builder().name("closed-early").smallPages(4L << 20).unprivileged().build();
            early.close();
            BlockingBuilder.RELEASE.countDown();
            late.awaitMxBeanRegistration();
            early.awaitMxBeanRegistration();
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            ObjectName lateName = new ObjectName("io.kmem:type=MemoryPool,name=late-mx");
            check(server.isRegistered(lateName), "late-mx not registered: " + server.queryNames(
                    new ObjectName("io.kmem:*"), null));
            check(server.getAttribute(lateName, "Name").equals("late-mx"), "late-mx's Name attribute");
            check(server.queryNames(new ObjectName("io.kmem:type=MemoryPool,name=closed-early*"), null).isEmpty(),
                    "a pool closed during its registration left " + server.queryNames(new ObjectName("io.kmem:*"), null));
            // Once the server is up, a pool registers in build(), on the caller's thread.
            try (MemoryPool now = MemoryPool.builder().name("now-mx").smallPages(4L << 20).unprivileged().build()) {
                check(server.isRegistered(new ObjectName("io.kmem:type=MemoryPool,name=now-mx")),
                        "a pool built with the server up is not registered when build() returns");
            }
            late.close();
            check(!server.isRegistered(lateName), "late-mx still registered after close");
            System.out.println("PASS");
        }

        private static void check(boolean ok, String what) {
            if (!ok) {
                System.out.println("FAIL: " + what);
                System.exit(1);
            }
        }
    }
}
