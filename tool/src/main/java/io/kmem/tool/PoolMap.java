package io.kmem.tool;

import io.kmem.MemoryPool;
import io.kmem.gfp.ZoneType;
import io.kmem.stats.FrameOwners;
import io.kmem.stats.FrameOwners.Owner;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code kmem map}: the pool's physical frames as a picture, each frame coloured by its owner.
 *
 * <pre>
 *  title, facts (frames, sources, zones, workload, scale, free and used)
 *  legend: free by order 0..10 (light to dark green), per-thread cache, page blocks, large
 *          kmalloc, vmalloc, one colour per slab cache, reserved, in transit, hole, zones
 *  0x5e2a00000 |z| [512 cells: one 2 MiB stretch of physical memory]   hugetlb
 *  0x5e2c00000 |z| [...]
 *  ...... gap: 1.2 GiB not in the pool (pfn 0x... to 0x...) ......
 *  0x6f0000000 |z| [...]
 * </pre>
 * The unit is the stretch: 512 frames (2 MiB) aligned in PFN space; only stretches holding
 * at least one frame of the pool are drawn, in PFN order. A row is {@value #CELLS} cells.
 * While the stretches fit in {@value #MAX_ROWS} rows (pools up to about 320 MiB whose frames
 * come in 2 MiB runs) a row is one stretch and a cell one frame, and a jump in PFN between
 * two rows is a labelled gap band. Larger pools put 2, 4, 8 ... stretches in a row, a cell
 * then aggregating as many frames and taking the colour most of them have; a jump in PFN
 * inside a row is a black tick at the stretch's left edge (its tooltip says how far). Cells
 * of a drawn stretch that the pool does not hold are "hole" grey. {@code |z|} is the zone of
 * the row's first frame; each row is labelled with the physical address it starts at.
 */
final class PoolMap {
    static final int CELLS = 512;
    /** Frames of a stretch: 2 MiB of physical memory, aligned. */
    static final long STRETCH = 512;
    static final int MAX_ROWS = 160;
    static final int CELL_W = 2;
    static final int ROW_H = 10;
    static final int CELL_H = 9;
    static final int GAP_H = 12;
    static final int MARGIN = 8;
    static final int LINE_H = 11;

    static final int BACKGROUND = 0xffffff;
    static final int INK = 0x222222;
    static final int FAINT = 0x777777;
    static final int HOLE = 0xe4e4e4;
    static final int PCP = 0x7fd3e6;
    static final int PAGES = 0x2f5fd0;
    static final int LARGE = 0xf28e1c;
    static final int VMALLOC = 0x8e44ad;
    static final int RESERVED = 0x555555;
    static final int OTHER = 0x000000;
    private static final int FREE_LIGHT = 0xd8f3cc;
    private static final int FREE_DARK = 0x145a22;
    private static final int[] SLAB_PALETTE = {0xd62728, 0xe377c2, 0x8c564b, 0xbcbd22, 0xff9896, 0xc49c94, 0x9e1f63,
                                               0xb8860b, 0xff6f61, 0x7f3c0f, 0xffd700, 0xa0522d, 0xcd5c5c, 0xf4a460,
                                               0xdbdb8d, 0xf7b6d2};
    private static final Map<ZoneType, Integer> ZONE_COLOR = Map.of(ZoneType.DMA, 0xb03a2e, ZoneType.DMA32, 0xe67e22,
            ZoneType.NORMAL, 0x34495e);

    /** A rectangle of the picture, in pixels. */
    record Box(int x, int y, int w, int h) {
        int cx() {
            return x + w / 2;
        }

        int cy() {
            return y + h / 2;
        }
    }

    /** One legend entry: its key ("free-3", "slab:kmalloc-64", "vmalloc" ...), text, colour, frames and swatch. */
    record Legend(String key, String label, int rgb, long frames, Box swatch) {
    }

    private record Gap(int y, long fromPfn, long toPfn) {
    }

    private final FrameOwners owners;
    private final boolean physical;
    private final String title;
    private final List<String> facts = new ArrayList<>();
    private final Map<String, Integer> cacheColor = new LinkedHashMap<>();
    private final List<Legend> legend = new ArrayList<>();
    /** Frames per cell, and stretches per row. */
    private final int framesPerCell;
    /** Every stretch (pfn / 512) holding a frame, sorted. */
    private final long[] stretches;
    private final int[] rowY;
    private final List<Gap> gaps = new ArrayList<>();
    private final int labelW;
    private final int cellsX;
    private final int width;
    private final int height;

    /**
     * Lays out the picture of {@code owners}.
     *
     * @param title    the first line
     * @param facts    lines under it (wrapped to the width)
     * @param physical false when PFNs are frame indices (an unprivileged pool)
     */
    PoolMap(FrameOwners owners, String title, List<String> facts, boolean physical) {
        this.owners = owners;
        this.physical = physical;
        this.title = title;
        long[] st = new long[owners.frames()];
        int ns = 0;
        for (int i = 0; i < owners.frames(); i++) {
            long stretch = owners.pfn(i) / STRETCH;
            if (ns == 0 || st[ns - 1] != stretch) {
                st[ns++] = stretch;
            }
        }
        this.stretches = java.util.Arrays.copyOf(st, ns);
        int fpc = 1;
        while ((ns + fpc - 1) / fpc > MAX_ROWS && fpc < CELLS) {
            fpc *= 2;
        }
        this.framesPerCell = fpc;
        int n = (ns + fpc - 1) / fpc;
        List<String> caches = new ArrayList<>(owners.caches());
        caches.sort(Comparator.comparingLong(PoolMap::kmallocSize).thenComparing(Comparator.naturalOrder()));
        for (int i = 0; i < caches.size(); i++) {
            cacheColor.put(caches.get(i), SLAB_PALETTE[i % SLAB_PALETTE.length]);
        }
        long lastAddr = ns == 0 ? 0 : stretches[ns - 1] * STRETCH << 12;
        this.labelW = rowLabel(lastAddr).length() * Raster.ADVANCE;
        this.cellsX = MARGIN + labelW + 6 + 5 + 3;
        this.width = cellsX + CELLS * CELL_W + 8 + "hugetlb".length() * Raster.ADVANCE + MARGIN;
        int maxChars = (width - 2 * MARGIN) / Raster.ADVANCE;
        List<String> wrapped = new ArrayList<>();
        for (String f : facts) {
            wrapped.addAll(wrap(f, maxChars));
        }
        wrapped.addAll(wrap(scaleLine(), maxChars));
        this.facts.addAll(wrapped);
        int y = MARGIN + 2 * Raster.GLYPH_H + 6 + this.facts.size() * LINE_H + 8;
        y = layoutLegend(y) + 10;
        this.rowY = new int[n];
        for (int r = 0; r < n; r++) {
            if (fpc == 1 && r > 0 && stretches[r] != stretches[r - 1] + 1) {
                gaps.add(new Gap(y, (stretches[r - 1] + 1) * STRETCH, stretches[r] * STRETCH));
                y += GAP_H;
            }
            rowY[r] = y;
            y += ROW_H;
        }
        this.height = y + MARGIN;
    }

    /** Builds a pool, runs the workload, writes the picture: {@code kmem map}. */
    static int run(Main.Args a, PrintStream out, PrintStream err) {
        String file = a.string("--out", null);
        if (file == null) {
            throw new Main.UsageException("--out FILE.png or --out FILE.svg is required");
        }
        boolean svg = file.toLowerCase(Locale.ROOT).endsWith(".svg");
        if (!svg && !file.toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new Main.UsageException("--out " + file + ": the format follows the extension, .png or .svg");
        }
        String workload = Workloads.check(a.string("--workload", "mixed"));
        try (MemoryPool pool = a.builder().build()) {
            Workloads.Held held = Workloads.run(workload, pool);
            PoolMap map = of(pool, workload, held.summary());
            byte[] bytes = svg ? map.svg().getBytes(StandardCharsets.UTF_8) : map.png();
            try {
                Files.write(Path.of(file), bytes);
            } catch (IOException e) {
                err.println("kmem map: cannot write " + file + ": " + e);
                return Main.FAILED;
            }
            out.printf(Locale.ROOT, "kmem map: %s written, %d x %d pixels, %d bytes: %d frames in %d rows of %d cells,"
                    + " %d frame%s a cell%n", file, map.width, map.height, bytes.length, map.owners.frames(),
                    map.rowY.length, CELLS, map.framesPerCell, map.framesPerCell == 1 ? "" : "s");
            for (Legend l : map.legend) {
                if (l.frames() > 0 && !l.key().startsWith("zone")) {
                    out.printf(Locale.ROOT, "  %-28s %8d frames%n", l.label(), l.frames());
                }
            }
            return Main.OK;
        }
    }

    /** The picture of {@code pool} as it is now, with the pool's facts in the title. */
    static PoolMap of(MemoryPool pool, String workload, String summary) {
        FrameOwners o = pool.frameOwners();
        long huge = o.hugetlbFrames();
        long first = o.frames() == 0 ? 0 : o.pfn(0);
        long last = o.frames() == 0 ? 0 : o.pfn(o.frames() - 1);
        Map<ZoneType, Long> zones = new LinkedHashMap<>();
        for (int i = 0; i < o.frames(); i++) {
            zones.merge(o.zone(i), 1L, Long::sum);
        }
        StringBuilder z = new StringBuilder();
        zones.forEach((k, v) -> z.append(z.isEmpty() ? "" : ", ").append(k.procName()).append(' ').append(v));
        List<String> facts = new ArrayList<>();
        facts.add(String.format(Locale.ROOT, "%d frames of 4 KiB (%s): %d from 4 KiB shmem pages, %d from hugetlb pages;"
                        + " %s 0x%x to 0x%x; zones: %s; drawn %s", o.frames(), mib(o.frames()), o.frames() - huge, huge,
                pool.physical() ? "pfn" : "frame index (unprivileged: no physical addresses)", first, last, z,
                LocalDate.now()));
        facts.add("workload " + workload + ": " + summary);
        long free = o.count(Owner.FREE);
        int largest = -1;
        for (int i = 0; i < o.frames(); i++) {
            if (o.owner(i) == Owner.FREE) {
                largest = Math.max(largest, o.order(i));
            }
        }
        facts.add(String.format(Locale.ROOT, "free %d frames (%s), largest free block order %d; slab %d, page blocks %d,"
                        + " large kmalloc %d, vmalloc %d, per-thread caches %d, reserved %d, in transit %d",
                free, mib(free), largest, o.count(Owner.SLAB), o.count(Owner.PAGES), o.count(Owner.LARGE_KMALLOC),
                o.count(Owner.VMALLOC), o.count(Owner.PCP), o.count(Owner.RESERVED), o.count(Owner.OTHER)));
        return new PoolMap(o, "kmem map of pool '" + pool.name() + "'", facts, pool.physical());
    }

    // ================================================================== layout

    private String scaleLine() {
        long jumps = 0;
        long skipped = 0;
        for (int j = 1; j < stretches.length; j++) {
            if (stretches[j] != stretches[j - 1] + 1) {
                jumps++;
                skipped += stretches[j] - stretches[j - 1] - 1;
            }
        }
        String gapText = jumps + " jumps in PFN over " + size(skipped * STRETCH << 12) + " the pool does not hold";
        if (framesPerCell == 1) {
            return "one row = one 2 MiB stretch of physical memory (512 frames), one cell = one frame (4 KiB); rows in"
                    + " PFN order; only stretches holding a frame of the pool are drawn: " + gapText
                    + ", each a labelled gap band";
        }
        return "one row = " + framesPerCell + " stretches of 2 MiB the pool holds (" + size((long) framesPerCell
                * STRETCH << 12) + "), one cell = " + framesPerCell + " frames (" + size((long) framesPerCell << 12)
                + ") coloured by the owner most of them have; rows in PFN order; " + gapText + ", each a black tick"
                + " in its row; the label is the row's first physical address";
    }

    /** Places the legend from {@code y} down; returns the y below it. */
    private int layoutLegend(int y) {
        long[] freeByOrder = new long[MemoryPool.MAX_ORDER + 1];
        Map<String, Long> frames = new LinkedHashMap<>();
        long hole;
        for (int i = 0; i < owners.frames(); i++) {
            if (owners.owner(i) == Owner.FREE) {
                freeByOrder[owners.order(i)]++;
            }
            frames.merge(key(i), 1L, Long::sum);
        }
        hole = stretches.length * STRETCH - owners.frames();
        int x = MARGIN + "free blocks, by order:".length() * Raster.ADVANCE + 8;
        for (int order = 0; order <= MemoryPool.MAX_ORDER; order++) {
            legend.add(new Legend("free-" + order, "free, order " + order, freeColor(order), freeByOrder[order],
                    new Box(x, y, 18, 10)));
            x += 18 + 4 + 2 * Raster.ADVANCE + 6;
        }
        y += 16;
        List<String[]> entries = new ArrayList<>();
        entries.add(new String[] {"pcp", Owner.PCP.label()});
        entries.add(new String[] {"pages", Owner.PAGES.label()});
        entries.add(new String[] {"large", Owner.LARGE_KMALLOC.label()});
        entries.add(new String[] {"vmalloc", Owner.VMALLOC.label()});
        for (String c : cacheColor.keySet()) {
            entries.add(new String[] {"slab:" + c, "slab " + c});
        }
        entries.add(new String[] {"reserved", Owner.RESERVED.label()});
        entries.add(new String[] {"other", Owner.OTHER.label()});
        entries.add(new String[] {"hole", "hole (not in the pool)"});
        int columns = 4;
        int colW = (width - 2 * MARGIN) / columns;
        int i = 0;
        for (String[] e : entries) {
            long n = e[0].equals("hole") ? hole : frames.getOrDefault(e[0], 0L);
            if (n == 0) {
                continue;
            }
            Box b = new Box(MARGIN + (i % columns) * colW, y + (i / columns) * 14, 18, 10);
            legend.add(new Legend(e[0], e[1], colorOfKey(e[0]), n, b));
            i++;
        }
        y += ((i + columns - 1) / columns) * 14;
        int zx = MARGIN + "zones (strip left of each row):".length() * Raster.ADVANCE + 8;
        for (ZoneType zt : ZoneType.values()) {
            long n = 0;
            for (int k = 0; k < owners.frames(); k++) {
                n += owners.zone(k) == zt ? 1 : 0;
            }
            legend.add(new Legend("zone-" + zt.procName(), "zone " + zt.procName(), ZONE_COLOR.get(zt), n,
                    new Box(zx, y + 2, 5, 10)));
            zx += 5 + 4 + (6 + zt.procName().length()) * Raster.ADVANCE + 10;
        }
        return y + 16;
    }

    private static long kmallocSize(String cache) {
        String s = cache.replaceFirst("^(dma32-|dma-)?kmalloc-", "");
        if (s.equals(cache)) {
            return Long.MAX_VALUE;
        }
        try {
            return s.endsWith("k") ? Long.parseLong(s.substring(0, s.length() - 1)) << 10 : Long.parseLong(s);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    /** The legend key of frame {@code i}. */
    private String key(int i) {
        return switch (owners.owner(i)) {
            case FREE -> "free-" + owners.order(i);
            case PCP -> "pcp";
            case PAGES -> "pages";
            case SLAB -> "slab:" + owners.cache(i);
            case LARGE_KMALLOC -> "large";
            case VMALLOC -> "vmalloc";
            case RESERVED -> "reserved";
            case OTHER -> "other";
        };
    }

    private int colorOfKey(String key) {
        if (key.startsWith("free-")) {
            return freeColor(Integer.parseInt(key.substring(5)));
        }
        if (key.startsWith("slab:")) {
            return cacheColor.getOrDefault(key.substring(5), OTHER);
        }
        return switch (key) {
            case "pcp" -> PCP;
            case "pages" -> PAGES;
            case "large" -> LARGE;
            case "vmalloc" -> VMALLOC;
            case "reserved" -> RESERVED;
            case "hole" -> HOLE;
            default -> OTHER;
        };
    }

    /** Light green for order 0 to dark green for order 10. */
    static int freeColor(int order) {
        double t = order / (double) MemoryPool.MAX_ORDER;
        int r = (int) Math.round((FREE_LIGHT >> 16 & 0xff) * (1 - t) + (FREE_DARK >> 16 & 0xff) * t);
        int g = (int) Math.round((FREE_LIGHT >> 8 & 0xff) * (1 - t) + (FREE_DARK >> 8 & 0xff) * t);
        int b = (int) Math.round((FREE_LIGHT & 0xff) * (1 - t) + (FREE_DARK & 0xff) * t);
        return r << 16 | g << 8 | b;
    }

    // ================================================================== queries (tests)

    /** Where the frame at {@code pfn} is drawn, or null when the pool does not hold it. */
    Box cell(long pfn) {
        if (owners.indexOf(pfn) < 0) {
            return null;
        }
        int j = java.util.Arrays.binarySearch(stretches, pfn / STRETCH);
        int c = (j % framesPerCell) * (CELLS / framesPerCell) + (int) (pfn % STRETCH / framesPerCell);
        return new Box(cellsX + c * CELL_W, rowY[j / framesPerCell], CELL_W, CELL_H);
    }

    /** The legend entry of {@code key} ("free-10", "slab:kmalloc-64", "vmalloc", "pages" ...), or null. */
    Legend legend(String key) {
        for (Legend l : legend) {
            if (l.key().equals(key)) {
                return l;
            }
        }
        return null;
    }

    FrameOwners owners() {
        return owners;
    }

    int width() {
        return width;
    }

    int height() {
        return height;
    }

    int framesPerCell() {
        return framesPerCell;
    }

    // ================================================================== drawing

    byte[] png() {
        Raster r = new Raster(width, height, BACKGROUND);
        draw(r);
        return r.png();
    }

    String svg() {
        Svg s = new Svg(width, height, BACKGROUND);
        draw(s);
        return s.document();
    }

    void draw(Canvas c) {
        c.text(MARGIN, MARGIN, title, INK, 2);
        int y = MARGIN + 2 * Raster.GLYPH_H + 6;
        for (String f : facts) {
            c.text(MARGIN, y, f, INK, 1);
            y += LINE_H;
        }
        Legend first = legend.getFirst();
        c.text(MARGIN, first.swatch().y() + 2, "free blocks, by order:", INK, 1);
        for (Legend l : legend) {
            Box b = l.swatch();
            c.rect(b.x(), b.y(), b.w(), b.h(), l.rgb(), l.label() + ": " + l.frames() + " frames");
            if (l.key().startsWith("free-")) {
                c.text(b.x() + b.w() + 4, b.y() + 2, l.key().substring(5), INK, 1);
            } else if (l.key().startsWith("zone-")) {
                if (l.key().equals("zone-DMA")) {
                    c.text(MARGIN, b.y() + 2, "zones (strip left of each row):", INK, 1);
                }
                c.text(b.x() + b.w() + 4, b.y() + 2, l.label().substring(5) + ": " + l.frames(), INK, 1);
            } else {
                c.text(b.x() + b.w() + 6, b.y() + 2, l.label() + ": " + l.frames(), INK, 1);
            }
        }
        for (Gap g : gaps) {
            String label = "gap: " + size((g.toPfn() - g.fromPfn()) << 12) + " not in the pool (pfn 0x"
                    + Long.toHexString(g.fromPfn()) + " to 0x" + Long.toHexString(g.toPfn()) + ")";
            c.rect(cellsX, g.y() + GAP_H / 2 - 1, CELLS * CELL_W, 1, HOLE, null);
            int tw = label.length() * Raster.ADVANCE + 8;
            c.rect(cellsX + 16, g.y() + 1, tw, GAP_H - 2, BACKGROUND, null);
            c.text(cellsX + 20, g.y() + 2, label, FAINT, 1);
        }
        int every = rowY.length <= 64 ? 1 : rowY.length <= 128 ? 2 : 4;
        int i = 0;
        for (int r = 0; r < rowY.length; r++) {
            i = drawRow(c, r, i, r % every == 0);
        }
    }

    /** Draws row {@code r}, whose first frame is frame {@code i}; returns the first frame of the next row. */
    private int drawRow(Canvas c, int r, int i, boolean label) {
        int y = rowY[r];
        int per = CELLS / framesPerCell;
        int[] color = new int[CELLS];
        String[] keys = new String[CELLS];
        long[] firstPfn = new long[CELLS];
        java.util.Arrays.fill(color, HOLE);
        java.util.Arrays.fill(keys, "hole");
        int hugetlb = 0;
        int start = i;
        int firstStretch = r * framesPerCell;
        int lastStretch = Math.min(stretches.length, firstStretch + framesPerCell);
        Map<String, Integer> votes = new LinkedHashMap<>();
        for (int j = firstStretch; j < lastStretch; j++) {
            long base = stretches[j] * STRETCH;
            for (int q = 0; q < per; q++) {
                firstPfn[(j - firstStretch) * per + q] = base + (long) q * framesPerCell;
            }
            while (i < owners.frames() && owners.pfn(i) / STRETCH == stretches[j]) {
                int cell = (j - firstStretch) * per + (int) ((owners.pfn(i) - base) / framesPerCell);
                votes.clear();
                while (i < owners.frames() && owners.pfn(i) / STRETCH == stretches[j]
                        && (j - firstStretch) * per + (owners.pfn(i) - base) / framesPerCell == cell) {
                    votes.merge(key(i), 1, Integer::sum);
                    hugetlb += owners.hugetlb(i) ? 1 : 0;
                    i++;
                }
                String best = null;
                int most = 0;
                for (Map.Entry<String, Integer> v : votes.entrySet()) {
                    if (v.getValue() > most) {
                        best = v.getKey();
                        most = v.getValue();
                    }
                }
                keys[cell] = best;
                color[cell] = colorOfKey(best);
            }
        }
        ZoneType zone = owners.zone(start);
        c.rect(cellsX - 8, y, 5, CELL_H, ZONE_COLOR.get(zone), "zone " + zone.procName());
        if (label) {
            c.text(MARGIN, y + 1, rowLabel(stretches[firstStretch] * STRETCH << 12), FAINT, 1);
        }
        if (hugetlb * 2 > i - start) {
            c.text(cellsX + CELLS * CELL_W + 8, y + 1, "hugetlb", FAINT, 1);
        }
        int used = (lastStretch - firstStretch) * per;
        int run = 0;
        for (int k = 1; k <= used; k++) {
            boolean jump = k < used && k % per == 0;
            if (k == used || color[k] != color[run] || jump) {
                long to = firstPfn[k - 1] + framesPerCell - 1;
                c.rect(cellsX + run * CELL_W, y, (k - run) * CELL_W, CELL_H, color[run], String.format(Locale.ROOT,
                        "pfn 0x%x to 0x%x: %s", firstPfn[run], to, labelOf(keys[run])));
                run = k;
            }
        }
        for (int j = firstStretch + 1; j < lastStretch; j++) {
            if (stretches[j] != stretches[j - 1] + 1) {
                c.rect(cellsX + (j - firstStretch) * per * CELL_W - 1, y - 1, 2, CELL_H + 2, INK, "jump in PFN: "
                        + size((stretches[j] - stretches[j - 1] - 1) * STRETCH << 12) + " not in the pool, pfn 0x"
                        + Long.toHexString((stretches[j - 1] + 1) * STRETCH) + " to 0x"
                        + Long.toHexString(stretches[j] * STRETCH));
            }
        }
        return i;
    }

    private String labelOf(String key) {
        for (Legend l : legend) {
            if (l.key().equals(key)) {
                return l.label();
            }
        }
        return key;
    }

    private String rowLabel(long addr) {
        return physical ? String.format(Locale.ROOT, "0x%09x", addr) : String.format(Locale.ROOT, "idx 0x%x",
                addr >>> 12);
    }

    // ================================================================== text

    static String mib(long frames) {
        return size(frames << 12);
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB"
                    : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
        }
        return (bytes >> 10) + " KiB";
    }

    private static List<String> wrap(String s, int max) {
        List<String> out = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : s.split(" ")) {
            if (!line.isEmpty() && line.length() + 1 + word.length() > max) {
                out.add(line.toString());
                line.setLength(0);
            }
            line.append(line.isEmpty() ? "" : " ").append(word);
        }
        if (!line.isEmpty()) {
            out.add(line.toString());
        }
        return out;
    }
}
