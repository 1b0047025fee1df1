package io.kmem.tool;

import java.util.Locale;

/**
 * An SVG document written by hand: one {@code rect} per run of frames (with its tooltip as a
 * {@code title}) and monospace text placed where the PNG's 5 x 7 font puts it.
 */
final class Svg implements Canvas {
    private final StringBuilder sb = new StringBuilder();

    Svg(int width, int height, int background) {
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                + " viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">%n", width, height, width, height));
        sb.append(String.format(Locale.ROOT, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"%s\"/>%n", width,
                height, hex(background)));
    }

    @Override
    public void rect(int x, int y, int w, int h, int rgb, String tip) {
        sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"", x, y, w, h,
                hex(rgb)));
        if (tip == null) {
            sb.append("/>\n");
        } else {
            sb.append("><title>").append(escape(tip)).append("</title></rect>\n");
        }
    }

    @Override
    public void text(int x, int y, String s, int rgb, int scale) {
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-family=\"monospace\" font-size=\"%d\""
                        + " textLength=\"%d\" lengthAdjust=\"spacingAndGlyphs\" fill=\"%s\">%s</text>%n", x,
                y + Raster.GLYPH_H * scale, 9 * scale, s.length() * Raster.ADVANCE * scale, hex(rgb), escape(s)));
    }

    static String hex(int rgb) {
        return String.format(Locale.ROOT, "#%06x", rgb & 0xFFFFFF);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    String document() {
        return sb + "</svg>\n";
    }
}
