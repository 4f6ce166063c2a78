package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// targets are the ratios to the best peer that the issues set for a row,
// drawn as a dashed tick on it.
var targets = map[string]float64{"e3": 1.1, "e6": 1.1, "churn": 1.1}

// Layout in SVG user units.
const (
	width   = 1040
	labelW  = 430 // row labels, right-aligned at this x
	plotL   = labelW + 10
	plotR   = width - 150 // the ratio and best peer are written right of the plot
	rowH    = 22
	bottomH = 56
)

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// draw writes the chart as SVG. The x axis is logarithmic, so that 2× better
// and 2× worse lie equally far from 1.
func draw(w io.Writer, rs []row, captions []string) {
	lo, hi := 0.5, 2.0
	for _, r := range rs {
		if r.best != "" {
			lo, hi = min(lo, r.lo), max(hi, r.hi)
		}
	}
	lo, hi = math.Exp2(math.Floor(math.Log2(lo))), math.Exp2(math.Ceil(math.Log2(hi)))
	x := func(v float64) float64 {
		return plotL + (plotR-plotL)*(math.Log2(v)-math.Log2(lo))/(math.Log2(hi)-math.Log2(lo))
	}
	top := 78 + 16*len(captions)
	height := top + rowH*len(rs) + bottomH
	bottom := top + rowH*len(rs)

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(w, `<text x="10" y="20" font-size="15" font-weight="bold">unievent against the best peer, row by row (&gt; 1× means unievent is better)</text>`+"\n")
	for i, c := range captions {
		fmt.Fprintf(w, `<text x="10" y="%d" fill="#444">%s</text>`+"\n", 38+16*i, esc(c))
	}
	fmt.Fprintf(w, `<text x="10" y="%d" fill="#444">dot: unievent's median over the repetitions ÷ the best peer's median (the inverse on ↓ rows), log scale</text>`+"\n", top-30)
	fmt.Fprintf(w, `<text x="10" y="%d" fill="#444">whisker: unievent's worst to best repetition ÷ the same median; dashed tick: the target ratio</text>`+"\n", top-14)

	// Grid: powers of two, 1× drawn solid.
	for v := lo; v <= hi*1.0001; v *= 2 {
		stroke, dash := "#ddd", ""
		if v == 1 {
			stroke = "#333"
		} else {
			dash = ` stroke-dasharray="2,3"`
		}
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"%s/>`+"\n", x(v), top-4, x(v), bottom, stroke, dash)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%s×</text>`+"\n", x(v), bottom+16, esc(tick(v)))
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="start" fill="#a33">← best peer better</text>`+"\n", plotL, bottom+34)
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end" fill="#282">unievent better →</text>`+"\n", plotR, bottom+34)

	for i, r := range rs {
		y := float64(top + rowH*i + rowH/2)
		if i%2 == 0 {
			fmt.Fprintf(w, `<rect x="0" y="%.1f" width="%d" height="%d" fill="#f4f4f4"/>`+"\n", y-rowH/2, width, rowH)
		}
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", labelW, y+4, esc(r.label))
		if r.best == "" {
			fmt.Fprintf(w, `<text x="%d" y="%.1f" fill="#888">no figure</text>`+"\n", plotL+4, y+4)
			continue
		}
		color := "#282"
		if r.ratio < 1 {
			color = "#c33"
		}
		if t, ok := targets[r.scenario]; ok {
			fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#06c" stroke-width="2" stroke-dasharray="3,2"/>`+"\n", x(t), y-8, x(t), y+8)
		}
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="6" stroke-opacity="0.35"/>`+"\n", x(1), y, x(r.ratio), y, color)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", x(r.lo), y, x(r.hi), y)
		for _, v := range []float64{r.lo, r.hi} {
			fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", x(v), y-4, x(v), y+4)
		}
		fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", x(r.ratio), y, color)
		fmt.Fprintf(w, `<text x="%d" y="%.1f">%.2f× vs %s</text>`+"\n", plotR+8, y+4, r.ratio, esc(r.best))
	}
	fmt.Fprintln(w, `</svg>`)
}

func tick(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%g", v)
	}
	return fmt.Sprintf("1/%g", 1/v)
}
