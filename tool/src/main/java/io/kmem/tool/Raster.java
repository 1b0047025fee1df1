package io.kmem.tool;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;

/**
 * A picture in memory, written as PNG with {@code java.util.zip} alone: {@code kmem map}
 * needs no {@code java.desktop} (so no AWT, no fonts on the host, and the jlinked runtime of
 * the vm-test guest stays without it). Text is drawn with a built-in 5 x 7 pixel font.
 *
 * <pre>
 *  PNG = signature, IHDR (width, height, 8-bit RGB), IDAT (zlib of the rows, each preceded by
 *        filter byte 0), IEND; every chunk is length, type, data, CRC-32 of type and data
 * </pre>
 */
final class Raster implements Canvas {
    static final int GLYPH_W = 5;
    static final int GLYPH_H = 7;
    /** Pixels from one character to the next at scale 1. */
    static final int ADVANCE = GLYPH_W + 1;

    private static final Map<Character, long[]> FONT = font();

    private final int width;
    private final int height;
    private final int[] rgb;

    Raster(int width, int height, int background) {
        this.width = width;
        this.height = height;
        this.rgb = new int[width * height];
        java.util.Arrays.fill(rgb, background);
    }

    @Override
    public void rect(int x, int y, int w, int h, int color, String tip) {
        int x0 = Math.max(0, x);
        int x1 = Math.min(width, x + w);
        for (int row = Math.max(0, y); row < Math.min(height, y + h); row++) {
            java.util.Arrays.fill(rgb, row * width + x0, row * width + Math.max(x0, x1), color);
        }
    }

    @Override
    public void text(int x, int y, String s, int color, int scale) {
        for (int i = 0; i < s.length(); i++) {
            long[] g = FONT.getOrDefault(s.charAt(i), FONT.get('?'));
            for (int r = 0; r < GLYPH_H; r++) {
                for (int c = 0; c < GLYPH_W; c++) {
                    if ((g[r] >> (GLYPH_W - 1 - c) & 1) != 0) {
                        rect(x + (i * ADVANCE + c) * scale, y + r * scale, scale, scale, color, null);
                    }
                }
            }
        }
    }

    int pixel(int x, int y) {
        return rgb[y * width + x];
    }

    /** The picture as a PNG file. */
    byte[] png() {
        try {
            ByteArrayOutputStream file = new ByteArrayOutputStream();
            file.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
            ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(ihdr);
            d.writeInt(width);
            d.writeInt(height);
            d.write(new byte[] {8, 2, 0, 0, 0});
            chunk(file, "IHDR", ihdr.toByteArray());
            ByteArrayOutputStream z = new ByteArrayOutputStream();
            try (DeflaterOutputStream dz = new DeflaterOutputStream(z, new Deflater(Deflater.BEST_COMPRESSION), 1 << 16)) {
                byte[] row = new byte[1 + 3 * width];
                for (int y = 0; y < height; y++) {
                    for (int x = 0; x < width; x++) {
                        int p = rgb[y * width + x];
                        row[1 + 3 * x] = (byte) (p >> 16);
                        row[2 + 3 * x] = (byte) (p >> 8);
                        row[3 + 3 * x] = (byte) p;
                    }
                    dz.write(row);
                }
            }
            chunk(file, "IDAT", z.toByteArray());
            chunk(file, "IEND", new byte[0]);
            return file.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void chunk(ByteArrayOutputStream file, String type, byte[] data) throws IOException {
        DataOutputStream d = new DataOutputStream(file);
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        d.writeInt(data.length);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }

    /**
     * The 5 x 7 font: each glyph is seven rows of five pixels, '#' set; characters it lacks
     * are drawn as '?'.
     */
    private static Map<Character, long[]> font() {
        String glyphs = """
                \s ..... ..... ..... ..... ..... ..... .....
                ! ..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..
                " .#.#. .#.#. ..... ..... ..... ..... .....
                # .#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.
                $ ..#.. .#### #.#.. .###. ..#.# ####. ..#..
                % ##..# ##.#. ...#. ..#.. .#... .#.## #..##
                & .##.. #..#. #.#.. .#... #.#.# #..#. .##.#
                ' ..#.. ..#.. ..... ..... ..... ..... .....
                ( ...#. ..#.. .#... .#... .#... ..#.. ...#.
                ) .#... ..#.. ...#. ...#. ...#. ..#.. .#...
                * ..... ..#.. #.#.# .###. #.#.# ..#.. .....
                + ..... ..#.. ..#.. ##### ..#.. ..#.. .....
                , ..... ..... ..... ..... .##.. ..#.. .#...
                - ..... ..... ..... .###. ..... ..... .....
                . ..... ..... ..... ..... ..... .##.. .##..
                / ....# ...#. ...#. ..#.. .#... .#... #....
                0 .###. #...# #..## #.#.# ##..# #...# .###.
                1 ..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.
                2 .###. #...# ....# ...#. ..#.. .#... #####
                3 ##### ...#. ..#.. ...#. ....# #...# .###.
                4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
                5 ##### #.... ####. ....# ....# #...# .###.
                6 ..##. .#... #.... ####. #...# #...# .###.
                7 ##### ....# ...#. ..#.. .#... .#... .#...
                8 .###. #...# #...# .###. #...# #...# .###.
                9 .###. #...# #...# .#### ....# ...#. .##..
                : ..... .##.. .##.. ..... .##.. .##.. .....
                ; ..... .##.. .##.. ..... .##.. ..#.. .#...
                < ...#. ..#.. .#... #.... .#... ..#.. ...#.
                = ..... ..... ##### ..... ##### ..... .....
                > .#... ..#.. ...#. ....# ...#. ..#.. .#...
                ? .###. #...# ....# ...#. ..#.. ..... ..#..
                @ .###. #...# ....# .##.# #.#.# #.#.# .###.
                A .###. #...# #...# ##### #...# #...# #...#
                B ####. #...# #...# ####. #...# #...# ####.
                C .###. #...# #.... #.... #.... #...# .###.
                D ###.. #..#. #...# #...# #...# #..#. ###..
                E ##### #.... #.... ####. #.... #.... #####
                F ##### #.... #.... ####. #.... #.... #....
                G .###. #...# #.... #.### #...# #...# .####
                H #...# #...# #...# ##### #...# #...# #...#
                I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
                J ..### ...#. ...#. ...#. ...#. #..#. .##..
                K #...# #..#. #.#.. ##... #.#.. #..#. #...#
                L #.... #.... #.... #.... #.... #.... #####
                M #...# ##.## #.#.# #.#.# #...# #...# #...#
                N #...# #...# ##..# #.#.# #..## #...# #...#
                O .###. #...# #...# #...# #...# #...# .###.
                P ####. #...# #...# ####. #.... #.... #....
                Q .###. #...# #...# #...# #.#.# #..#. .##.#
                R ####. #...# #...# ####. #.#.. #..#. #...#
                S .#### #.... #.... .###. ....# ....# ####.
                T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
                U #...# #...# #...# #...# #...# #...# .###.
                V #...# #...# #...# #...# #...# .#.#. ..#..
                W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
                X #...# #...# .#.#. ..#.. .#.#. #...# #...#
                Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
                Z ##### ....# ...#. ..#.. .#... #.... #####
                [ .###. .#... .#... .#... .#... .#... .###.
                \\ #.... .#... .#... ..#.. ...#. ...#. ....#
                ] .###. ...#. ...#. ...#. ...#. ...#. .###.
                ^ ..#.. .#.#. #...# ..... ..... ..... .....
                _ ..... ..... ..... ..... ..... ..... #####
                ` .#... ..#.. ..... ..... ..... ..... .....
                a ..... ..... .###. ....# .#### #...# .####
                b #.... #.... #.##. ##..# #...# #...# ####.
                c ..... ..... .###. #.... #.... #...# .###.
                d ....# ....# .##.# #..## #...# #...# .####
                e ..... ..... .###. #...# ##### #.... .###.
                f ..##. .#..# .#... ###.. .#... .#... .#...
                g ..... .#### #...# #...# .#### ....# .###.
                h #.... #.... #.##. ##..# #...# #...# #...#
                i ..#.. ..... .##.. ..#.. ..#.. ..#.. .###.
                j ...#. ..... ..##. ...#. ...#. #..#. .##..
                k #.... #.... #..#. #.#.. ##... #.#.. #..#.
                l .##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
                m ..... ..... ##.#. #.#.# #.#.# #...# #...#
                n ..... ..... #.##. ##..# #...# #...# #...#
                o ..... ..... .###. #...# #...# #...# .###.
                p ..... ..... ####. #...# ####. #.... #....
                q ..... ..... .##.# #..## .#### ....# ....#
                r ..... ..... #.##. ##..# #.... #.... #....
                s ..... ..... .###. #.... .###. ....# ####.
                t .#... .#... ###.. .#... .#... .#..# ..##.
                u ..... ..... #...# #...# #...# #..## .##.#
                v ..... ..... #...# #...# #...# .#.#. ..#..
                w ..... ..... #...# #...# #.#.# #.#.# .#.#.
                x ..... ..... #...# .#.#. ..#.. .#.#. #...#
                y ..... ..... #...# #...# .#### ....# .###.
                z ..... ..... ##### ...#. ..#.. .#... #####
                { ...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.
                | ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
                } .#... ..#.. ..#.. ...#. ..#.. ..#.. .#...
                ~ ..... ..... .#... #.#.# ...#. ..... .....
                """;
        Map<Character, long[]> font = new HashMap<>();
        for (String line : glyphs.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            String[] rows = line.substring(2).split(" ");
            long[] g = new long[GLYPH_H];
            for (int r = 0; r < GLYPH_H; r++) {
                for (int c = 0; c < GLYPH_W; c++) {
                    g[r] = g[r] << 1 | (rows[r].charAt(c) == '#' ? 1 : 0);
                }
            }
            font.put(line.charAt(0), g);
        }
        return font;
    }
}
