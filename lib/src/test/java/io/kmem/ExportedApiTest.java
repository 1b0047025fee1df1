package io.kmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The module exports the API and its metrics, not the internals: no public or protected
 * member of a public type in an exported package takes, returns or holds a type of a package
 * the module does not export (a driver module could not name it). Read from the compiled
 * module descriptor and classes.
 */
class ExportedApiTest {
    private static final Path CLASSES = Path.of("target/classes");

    @Test
    void noPublicMemberOfTheApiUsesAnInternalType() throws Exception {
        ModuleDescriptor module = ModuleFinder.of(CLASSES).findAll().iterator().next().descriptor();
        assertEquals("io.kmem", module.name());
        Set<String> exported = new TreeSet<>();
        module.exports().forEach(e -> exported.add(e.source()));
        assertTrue(exported.containsAll(Set.of("io.kmem", "io.kmem.error", "io.kmem.gfp", "io.kmem.stats")),
                "exports: " + exported);
        List<String> leaks = new ArrayList<>();
        int members = 0;
        for (String pkg : exported) {
            for (Class<?> c : classesOf(pkg)) {
                if (!isApi(c)) {
                    continue;
                }
                List<Executable> executables = new ArrayList<>(List.of(c.getDeclaredMethods()));
                executables.addAll(List.of(c.getDeclaredConstructors()));
                for (Executable e : executables) {
                    if (!isApi(e.getModifiers()) || e.isSynthetic()) {
                        continue;
                    }
                    members++;
                    List<Type> types = new ArrayList<>(List.of(e.getGenericParameterTypes()));
                    if (e instanceof Method m) {
                        types.add(m.getGenericReturnType());
                    }
                    for (Type t : types) {
                        internal(t, exported, c.getName() + "." + (e instanceof Constructor ? "<init>" : e.getName()),
                                leaks);
                    }
                }
                for (Field f : c.getDeclaredFields()) {
                    if (isApi(f.getModifiers()) && !f.isSynthetic()) {
                        members++;
                        internal(f.getGenericType(), exported, c.getName() + "." + f.getName(), leaks);
                    }
                }
            }
        }
        assertTrue(members > 300, "public members seen: " + members);
        assertEquals(List.of(), leaks, "public members of exported packages using internal types");
    }

    private static boolean isApi(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getDeclaringClass()) {
            if (!Modifier.isPublic(k.getModifiers())) {
                return false;
            }
        }
        return true;
    }

    private static boolean isApi(int modifiers) {
        return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
    }

    /** Adds to {@code leaks} every class in {@code t} from an io.kmem package that is not exported. */
    private static void internal(Type t, Set<String> exported, String where, List<String> leaks) {
        if (t instanceof Class<?> c) {
            while (c.isArray()) {
                c = c.getComponentType();
            }
            String pkg = c.getPackageName();
            if (pkg.startsWith("io.kmem") && !exported.contains(pkg)) {
                leaks.add(where + ": " + c.getName());
            }
        } else if (t instanceof ParameterizedType p) {
            internal(p.getRawType(), exported, where, leaks);
            for (Type a : p.getActualTypeArguments()) {
                internal(a, exported, where, leaks);
            }
        } else if (t instanceof GenericArrayType g) {
            internal(g.getGenericComponentType(), exported, where, leaks);
        } else if (t instanceof WildcardType w) {
            Stream.concat(Stream.of(w.getUpperBounds()), Stream.of(w.getLowerBounds()))
                    .forEach(b -> internal(b, exported, where, leaks));
        } else if (t instanceof TypeVariable<?> v) {
            for (Type b : v.getBounds()) {
                internal(b, exported, where, leaks);
            }
        }
    }

    private static List<Class<?>> classesOf(String pkg) throws IOException, ClassNotFoundException {
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(CLASSES.resolve(pkg.replace('.', '/')))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).sorted().toList()) {
                String name = f.getFileName().toString();
                if (name.equals("package-info.class")) {
                    continue;
                }
                out.add(Class.forName(pkg + "." + name.substring(0, name.length() - 6), false,
                        ExportedApiTest.class.getClassLoader()));
            }
        }
        return out;
    }
}
