package io.kmem.tool;

import static io.kmem.gfp.Gfp.GFP_KERNEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kmem.MemoryPool;
import io.kmem.stats.FrameOwners;
import io.kmem.stats.FrameOwners.Owner;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kmem map}: every frame's cell has its owner's colour, the colour of that owner's
 * legend swatch, in the PNG (decoded by {@code javax.imageio}, not by kmem) and in the SVG.
 */
class PoolMapTest {
    private static final long MIB = 1L << 20;

    /** The legend key of frame {@code i}, as the map assigns it. */
    private static String key(FrameOwners o, int i) {
        return switch (o.owner(i)) {
            case FREE -> "free-" + o.order(i);
            case PCP -> "pcp";
            case PAGES -> "pages";
            case SLAB -> "slab:" + o.cache(i);
            case LARGE_KMALLOC -> "large";
            case VMALLOC -> "vmalloc";
            case RESERVED -> "reserved";
            case OTHER -> "other";
        };
    }

    @Test
    void everyFrameHasItsOwnersLegendColourInPngAndSvg() throws IOException {
        try (MemoryPool pool = MemoryPool.builder().name("map").smallPages(16 * MIB).build()) {
            List<Long> objs = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                objs.add(pool.kmalloc(64, GFP_KERNEL));
            }
            long area = pool.vmalloc(64 << 10);
            long block = pool.__get_free_pages(GFP_KERNEL, 3);
            long large = pool.kmalloc(40 << 10, GFP_KERNEL);
            PoolMap map = PoolMap.of(pool, "test", "kmalloc-64 x 200, vmalloc 64 KiB, order-3 block, kmalloc 40 KiB");
            FrameOwners o = map.owners();
            assertEquals(1, map.framesPerCell(), "a 16 MiB pool: one cell per frame");

            BufferedImage png = ImageIO.read(new ByteArrayInputStream(map.png()));
            assertEquals(map.width(), png.getWidth());
            assertEquals(map.height(), png.getHeight());
            String svg = map.svg();
            List<int[]> rects = svgRects(svg);

            for (int i = 0; i < o.frames(); i++) {
                PoolMap.Legend l = map.legend(key(o, i));
                assertNotNull(l, "a legend entry for " + key(o, i));
                PoolMap.Box cell = map.cell(o.pfn(i));
                int pixel = png.getRGB(cell.cx(), cell.cy()) & 0xFFFFFF;
                assertEquals(l.rgb(), pixel, "frame pfn 0x" + Long.toHexString(o.pfn(i)) + " (" + key(o, i) + ")");
                assertEquals(png.getRGB(l.swatch().cx(), l.swatch().cy()) & 0xFFFFFF, pixel,
                        "the swatch of " + key(o, i) + " has the frame's colour");
                assertEquals(l.rgb(), svgFill(rects, cell.cx(), cell.cy()), "SVG, frame pfn 0x"
                        + Long.toHexString(o.pfn(i)));
                assertEquals(l.rgb(), svgFill(rects, l.swatch().cx(), l.swatch().cy()), "SVG swatch of " + key(o, i));
            }

            String slab = "slab:kmalloc-64";
            assertEquals(map.legend(slab).rgb(), colourAt(png, map, pool.virt_to_pfn(objs.get(100))), slab);
            assertEquals(PoolMap.VMALLOC, colourAt(png, map, pool.vmalloc_to_pfn(area + 4096)), "a vmalloc frame");
            assertEquals(PoolMap.PAGES, colourAt(png, map, pool.virt_to_pfn(block) + 7), "the order-3 block's last page");
            assertEquals(PoolMap.LARGE, colourAt(png, map, pool.virt_to_pfn(large) + 9), "a large kmalloc");
            int biggestFree = -1;
            long freePfn = -1;
            for (int i = 0; i < o.frames(); i++) {
                if (o.owner(i) == Owner.FREE && o.order(i) > biggestFree) {
                    biggestFree = o.order(i);
                    freePfn = o.pfn(i);
                }
            }
            assertTrue(biggestFree >= 9, "a 16 MiB pool of 2 MiB folios keeps free blocks of order 9 or 10");
            assertEquals(PoolMap.freeColor(biggestFree), colourAt(png, map, freePfn), "free order " + biggestFree);
            assertTrue(svg.contains("<title>pfn 0x") && svg.contains("slab kmalloc-64"), "tooltips name the owner");
        }
    }

    @Test
    void aLargePoolAggregatesCellsAndStaysReadable() {
        try (MemoryPool pool = MemoryPool.builder().name("map-large").smallPages(512 * MIB).build()) {
            Workloads.run("mixed", pool);
            PoolMap map = PoolMap.of(pool, "mixed", "");
            assertTrue(map.framesPerCell() > 1, "512 MiB: more than one frame a cell");
            assertTrue(map.height() < 2000, "at most " + PoolMap.MAX_ROWS + " rows: " + map.height() + " pixels tall");
            FrameOwners o = map.owners();
            PoolMap.Box last = map.cell(o.pfn(o.frames() - 1));
            assertTrue(last.x() + last.w() <= map.width() && last.y() + last.h() <= map.height(), last.toString());
        }
    }

    @Test
    void theCommandWritesPngOrSvgByExtension(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("pool.png");
        MainTest.Result r = MainTest.run("map", "--mib", "16", "--out", png.toString());
        assertEquals(0, r.status(), r.toString());
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "a PNG javax.imageio reads");
        assertTrue(r.out().contains(png + " written, " + img.getWidth() + " x " + img.getHeight()), r.toString());
        Path svg = dir.resolve("pool.svg");
        r = MainTest.run("map", "--mib", "16", "--workload", "fragmented", "--out", svg.toString());
        assertEquals(0, r.status(), r.toString());
        String text = Files.readString(svg);
        assertTrue(text.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"") && text.endsWith("</svg>\n"));
        assertTrue(text.contains("free, order 0"), "fragmented: free blocks of order 0 in the legend");
    }

    private static int colourAt(BufferedImage png, PoolMap map, long pfn) {
        PoolMap.Box b = map.cell(pfn);
        return png.getRGB(b.cx(), b.cy()) & 0xFFFFFF;
    }

    /** x, y, w, h, fill of every rect, in document order. */
    private static List<int[]> svgRects(String svg) {
        Matcher m = Pattern.compile("<rect x=\"(\\d+)\" y=\"(\\d+)\" width=\"(\\d+)\" height=\"(\\d+)\" fill=\"#([0-9a-f]{6})\"")
                .matcher(svg);
        List<int[]> out = new ArrayList<>();
        while (m.find()) {
            out.add(new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                               Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5), 16)});
        }
        return out;
    }

    /** The fill of the last rect (the one painted on top) covering (x, y). */
    private static int svgFill(List<int[]> rects, int x, int y) {
        int fill = -1;
        for (int[] r : rects) {
            if (x >= r[0] && x < r[0] + r[2] && y >= r[1] && y < r[1] + r[3]) {
                fill = r[4];
            }
        }
        return fill;
    }
}
