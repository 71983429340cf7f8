# gsvm-bench's chart (gnuplot 5). gsvm-bench runs it as
#   gnuplot -e "datadir='DIR'; out='FILE.png'; quick=0|1" bench/plot.gp
# with the data files it wrote in DIR:
#   fault_{4k,2m}_{gsvm,baseline}.dat   latency CDF: microseconds, fraction
#   scale_clients.dat                   clients, aggregate GB/s
#   scale_ranges.dat                    ranges, p50 us, p99 us
# A panel whose data is missing (family not run) says so.

if (!exists("datadir")) datadir = "."
if (!exists("out")) out = "chart.png"
if (!exists("quick")) quick = 0

have(f) = system("[ -s '" . datadir . "/" . f . "' ] && echo 1 || echo 0") eq "1"
dat(f) = datadir . "/" . f

set terminal pngcairo size 1400,1000 font "DejaVu Sans,10"
set output out
set multiplot layout 2,2 title (quick ? "gsvm-bench (quick run)" : "gsvm-bench") font ",14"
set grid
set key bottom right
set style line 1 lc rgb "#1f77b4" lw 2
set style line 2 lc rgb "#d62728" lw 2

# --- fault latency distributions (CDF, log x)
set logscale x
set xlabel "fault latency (us)"
set ylabel "fraction of faults"
set yrange [0:1]
set title "fault_4k: CPU fault on device-resident 4 KiB range" noenhanced
if (have("fault_4k_gsvm.dat") && have("fault_4k_baseline.dat")) {
	plot dat("fault_4k_gsvm.dat") using 1:2 with lines ls 1 title "gsvm", \
	     dat("fault_4k_baseline.dat") using 1:2 with lines ls 2 title "baseline (read + UFFDIO_COPY)" noenhanced
} else {
	set label 1 "not measured" at graph 0.5, 0.5 center
	plot [1:10][0:1] NaN notitle
	unset label 1
}
set title "fault_2m: CPU fault on device-resident 2 MiB range" noenhanced
if (have("fault_2m_gsvm.dat") && have("fault_2m_baseline.dat")) {
	plot dat("fault_2m_gsvm.dat") using 1:2 with lines ls 1 title "gsvm", \
	     dat("fault_2m_baseline.dat") using 1:2 with lines ls 2 title "baseline (read + UFFDIO_COPY)" noenhanced
} else {
	set label 1 "not measured" at graph 0.5, 0.5 center
	plot [1:10][0:1] NaN notitle
	unset label 1
}

# --- scaling curves
set yrange [0:*]
set title "scale_clients: prefetch + fault cycles, aggregate" noenhanced
set xlabel "concurrent clients"
set ylabel "GB/s (8 MiB per cycle)"
set xtics (1, 16, 128)
set xrange [0.7:180]
set key top right
if (have("scale_clients.dat")) {
	plot dat("scale_clients.dat") using 1:2 with linespoints ls 1 pt 7 ps 1.5 title "gsvm"
} else {
	set label 1 "not measured" at graph 0.5, 0.5 center
	plot [1:10][0:1] NaN notitle
	unset label 1
}
set title "scale_ranges: 64-byte device op on one client" noenhanced
set xlabel "ranges of the client"
set ylabel "device-op latency (us)"
set xtics auto
set xrange [500:2000000]
set format x "10^{%L}"
if (have("scale_ranges.dat")) {
	plot dat("scale_ranges.dat") using 1:2 with linespoints ls 1 pt 7 ps 1.5 title "p50", \
	     dat("scale_ranges.dat") using 1:3 with linespoints ls 2 pt 5 ps 1.5 title "p99"
} else {
	set label 1 "not measured" at graph 0.5, 0.5 center
	plot [1:10][0:1] NaN notitle
	unset label 1
}
unset multiplot
