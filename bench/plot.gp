# gnuplot -e "dir='DIR'" bench/plot.gp: throughput.dat and latency.dat (written by
# e2e_bench --out DIR) to DIR/benchmarks.png.
set terminal pngcairo size 1200,480 font ",10"
set output dir.'/benchmarks.png'
set multiplot layout 1,2
set title "Throughput, 100-byte records (median msg/s)"
set style fill solid 0.6
set boxwidth 0.6
set logscale y
set yrange [1000:*]
set grid ytics
set xtics rotate by -20
plot dir.'/throughput.dat' using 0:2:xtic(1) with boxes notitle, \
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,1 notitle
unset logscale y
set autoscale y
set title "Open-loop latency at half load, last run (us from scheduled send)"
set xlabel "quantile"
set ylabel "us"
set logscale y
set xtics norotate
plot dir.'/latency.dat' using 1:2 with linespoints title "bare librdkafka", \
     '' using 1:3 with linespoints title "sluice"
unset multiplot
