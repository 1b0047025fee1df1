package io.kmem;

import java.util.Locale;
import java.util.Random;

/**
 * {@code make soak SECONDS=N [SEED=S]}: the model of {@link ReliabilityProperties} run for a
 * given time with fresh random bursts: rounds of 100 bursts on a new pool, every invariant
 * checked after every burst, everything freed and accounted for at the end of each round.
 * Prints progress every 10 seconds and the seed of any failing round; exits 1 on a failure.
 */
public final class Soak {
    private Soak() {
    }

    public static void main(String[] args) {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 60;
        long seed = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime();
        Random master = new Random(seed);
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        long start = System.nanoTime();
        long lastReport = start;
        int rounds = 0;
        System.out.printf(Locale.ROOT, "soak: %d s, seed %d%n", seconds, seed);
        while (System.nanoTime() < deadline) {
            long roundSeed = master.nextLong();
            ReliabilityProperties.Model m = new ReliabilityProperties.Model();
            Random r = new Random(roundSeed);
            String step = "start";
            try {
                for (int k = 0; k < 100 && System.nanoTime() < deadline; k++) {
                    int n = 50 + r.nextInt(6000);
                    int pick = r.nextInt(28);
                    step = "burst " + k + " (" + pick + ", " + n + ")";
                    if (pick < 6) {
                        m.kmallocBurst(r, n);
                    } else if (pick < 10) {
                        m.cacheBurst(r, n);
                    } else if (pick < 14) {
                        m.pageBurst(r, n);
                    } else if (pick < 16) {
                        m.vmallocBurst(r, n);
                    } else if (pick < 17) {
                        m.vmapBurst(r, n);
                    } else if (pick < 25) {
                        m.freeBurst(r, n);
                    } else if (pick < 26) {
                        m.churn(r, n);
                    } else {
                        m.dmaBurst(r, n);
                    }
                    m.checkConsistent();
                    m.checkCounts();
                    m.checkSample();
                    if (System.nanoTime() - lastReport > 10_000_000_000L) {
                        lastReport = System.nanoTime();
                        System.out.printf(Locale.ROOT, "soak: %4.0f s, %d rounds, %,d allocator calls, now %s%n",
                                (lastReport - start) / 1e9, rounds, ReliabilityProperties.CALLS[0], m);
                    }
                }
                step = "finish";
                m.finish();
            } catch (Throwable t) {
                System.out.printf(Locale.ROOT, "soak: FAILED in round %d (round seed %d) at %s: %s%n", rounds, roundSeed,
                        step, t);
                t.printStackTrace(System.out);
                m.close();
                System.exit(1);
            }
            m.close();
            rounds++;
        }
        System.out.printf(Locale.ROOT, "soak: PASS: %d rounds, %,d allocator calls in %.0f s, every round at rest"
                + " with every frame accounted for%n", rounds, ReliabilityProperties.CALLS[0], (System.nanoTime() - start) / 1e9);
    }
}
