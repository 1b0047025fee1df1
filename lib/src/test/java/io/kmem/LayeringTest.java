package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layer picture of DESIGN.md, checked on the compiled classes: every class a class file
 * names in its constant pool (so imports, calls, fields, not javadoc links) lies in its own
 * package or in a lower layer, and no two packages depend on each other in a cycle.
 *
 * <pre>
 *   8  io.kmem                          the facade: MemoryPool, the header contracts, handles
 *   7  internal.mmio, internal.report,  ioremap reuses vmalloc's areas; reports read every allocator;
 *      internal.vfio                    VFIO puts a dma device and its pci function behind an IOMMU
 *   6  internal.slub, internal.vmalloc, internal.dma, internal.pci, internal.irq (interrupt lines)
 *   5  internal.page                    the buddy allocator
 *   4  internal.phys                    frames, pinning, the direct map, mem_map
 *   3  internal.sys, internal.trace     system calls; JFR events, atomic context (might_sleep)
 *   2  stats                            the API's records (they name GFP zones and frame kinds)
 *   1  error, gfp, debug                the API's vocabulary: exceptions, flags, fault knobs
 *   0  bindings, internal.lib           jextract output; ratelimit
 * </pre>
 * The vocabulary is exported but sits low, as java.lang.foreign's types do under the JDK's
 * implementation: every layer throws the same exceptions and takes the same GFP flags. The
 * kmem tool is a module of its own that requires this one, so it cannot be imported here.
 */
class LayeringTest {
    static final Map<String, Integer> LAYER = Map.ofEntries(
            Map.entry("io.kmem.tool", 9),
            Map.entry("io.kmem", 8),
            Map.entry("io.kmem.internal.mmio", 7),
            Map.entry("io.kmem.internal.report", 7),
            Map.entry("io.kmem.internal.vfio", 7),
            Map.entry("io.kmem.internal.slub", 6),
            Map.entry("io.kmem.internal.vmalloc", 6),
            Map.entry("io.kmem.internal.dma", 6),
            Map.entry("io.kmem.internal.pci", 6),
            Map.entry("io.kmem.internal.irq", 6),
            Map.entry("io.kmem.internal.page", 5),
            Map.entry("io.kmem.internal.phys", 4),
            Map.entry("io.kmem.internal.sys", 3),
            Map.entry("io.kmem.internal.trace", 3),
            Map.entry("io.kmem.stats", 2),
            Map.entry("io.kmem.error", 1),
            Map.entry("io.kmem.gfp", 1),
            Map.entry("io.kmem.debug", 1),
            Map.entry("io.kmem.bindings", 0),
            Map.entry("io.kmem.internal.lib", 0));

    /** Package -> the io.kmem packages its classes name, with one example reference each. */
    static Map<String, Map<String, String>> packageGraph() {
        Path root;
        try {
            root = Path.of(MemoryPool.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        Map<String, Map<String, String>> graph = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                if (f.getFileName().toString().equals("module-info.class")) {
                    continue;
                }
                ClassModel cm = ClassFile.of().parse(Files.readAllBytes(f));
                String self = cm.thisClass().asInternalName().replace('/', '.');
                String from = packageOf(self);
                Map<String, String> deps = graph.computeIfAbsent(from, k -> new TreeMap<>());
                for (PoolEntry e : cm.constantPool()) {
                    for (String name : classNames(e)) {
                        String to = packageOf(name);
                        if (to.startsWith("io.kmem") && !to.equals(from)) {
                            deps.putIfAbsent(to, self + " -> " + name);
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return graph;
    }

    /** The classes a constant names: a class entry, or the types in a descriptor. */
    private static List<String> classNames(PoolEntry e) {
        List<String> out = new ArrayList<>();
        if (e instanceof ClassEntry c) {
            String n = c.asInternalName();
            int arr = n.lastIndexOf('[');
            if (arr >= 0) {
                n = n.substring(arr + 1);
                if (!n.startsWith("L")) {
                    return out;
                }
                n = n.substring(1, n.length() - 1);
            }
            out.add(n.replace('/', '.'));
        } else if (e instanceof java.lang.classfile.constantpool.Utf8Entry u) {
            String s = u.stringValue();
            // descriptors and signatures: Lio/kmem/...; 
            int i = s.indexOf("Lio/kmem/");
            while (i >= 0) {
                int end = s.indexOf(';', i);
                int lt = s.indexOf('<', i);
                if (end < 0) {
                    break;
                }
                if (lt >= 0 && lt < end) {
                    end = lt;
                }
                out.add(s.substring(i + 1, end).replace('/', '.'));
                i = s.indexOf("Lio/kmem/", end);
            }
        }
        return out;
    }

    private static String packageOf(String className) {
        int dot = className.lastIndexOf('.');
        return dot < 0 ? "" : className.substring(0, dot);
    }

    @Test
    void everyPackageHasALayer() {
        List<String> unranked = packageGraph().keySet().stream().filter(p -> !LAYER.containsKey(p)).toList();
        assertEquals(List.of(), unranked, "packages without a layer in LayeringTest.LAYER (add them, with the"
                + " layer DESIGN.md gives them)");
    }

    @Test
    void importsPointDownOnly() {
        List<String> upward = new ArrayList<>();
        packageGraph().forEach((from, deps) -> deps.forEach((to, example) -> {
            Integer lf = LAYER.get(from);
            Integer lt = LAYER.get(to);
            if (lf != null && lt != null && lt >= lf) {
                upward.add(from + " (layer " + lf + ") uses " + to + " (layer " + lt + "): " + example);
            }
        }));
        assertEquals(List.of(), upward, "a layer may use only lower layers");
    }

    @Test
    void noPackageCycles() {
        List<List<String>> cycles = cycles(packageGraph());
        assertEquals(List.of(), cycles, "package cycles (each a strongly connected component)");
    }

    @Test
    void theCheckFindsACycleAndAnUpwardImport() {
        Map<String, Map<String, String>> g = new TreeMap<>();
        g.put("a", Map.of("b", "a.X -> b.Y"));
        g.put("b", Map.of("c", "b.Y -> c.Z"));
        g.put("c", Map.of("a", "c.Z -> a.X"));
        g.put("d", Map.of("a", "d.W -> a.X"));
        assertEquals(List.of(List.of("a", "b", "c")), cycles(g));
        // the real graph: the facade uses the page allocator, never the other way round
        Map<String, Map<String, String>> real = packageGraph();
        assertTrue(real.get("io.kmem").containsKey("io.kmem.internal.page"), "the facade builds the page allocator");
        assertTrue(!real.getOrDefault("io.kmem.internal.page", Map.of()).containsKey("io.kmem"));
    }

    /** Tarjan's strongly connected components of more than one package, each sorted. */
    static List<List<String>> cycles(Map<String, Map<String, String>> g) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<List<String>> out = new ArrayList<>();
        int[] next = {0};
        for (String v : g.keySet()) {
            if (!index.containsKey(v)) {
                strongConnect(v, g, index, low, stack, onStack, out, next);
            }
        }
        return out;
    }

    private static void strongConnect(String v, Map<String, Map<String, String>> g, Map<String, Integer> index,
            Map<String, Integer> low, Deque<String> stack, Set<String> onStack, List<List<String>> out, int[] next) {
        index.put(v, next[0]);
        low.put(v, next[0]);
        next[0]++;
        stack.push(v);
        onStack.add(v);
        for (String w : g.getOrDefault(v, Map.of()).keySet()) {
            if (!index.containsKey(w)) {
                strongConnect(w, g, index, low, stack, onStack, out, next);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> scc = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                scc.add(w);
            } while (!w.equals(v));
            if (scc.size() > 1) {
                scc.sort(null);
                out.add(scc);
            }
        }
    }
}
