package io.kmem.tool;

/** What {@code kmem map} draws on: a {@link Raster} for PNG, an {@link Svg} document. */
interface Canvas {
    /** Fills {@code w} x {@code h} pixels at ({@code x}, {@code y}) with {@code rgb}; {@code tip}: a tooltip or null. */
    void rect(int x, int y, int w, int h, int rgb, String tip);

    /** Draws {@code s} with its top-left corner at ({@code x}, {@code y}), 5 x 7 pixel characters times {@code scale}. */
    void text(int x, int y, String s, int rgb, int scale);
}
