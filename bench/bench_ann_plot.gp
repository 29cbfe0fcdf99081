# bench_ann_plot.gp: recall@10 (x) against queries/s on one thread (y, log scale), one line per
# system, from the CSV bench_ann writes (system,ef,recall10,qps_1t,...; each system's rows
# together, ef ascending). bench_ann runs it itself when gnuplot is installed; by hand:
#   gnuplot -e "csv='bench_ann.csv'; png='bench_ann.png'" bench/bench_ann_plot.gp
if (!exists("csv")) csv = 'bench_ann.csv'
if (!exists("png")) png = 'bench_ann.png'
set terminal pngcairo size 900,600 noenhanced
set output png
set datafile separator ','
set key top right
set grid
set logscale y
set xlabel 'recall@10'
set ylabel 'queries/s, 1 thread, one query per call (log scale)'
set title 'HNSW M=16 efConstruction=200 on Fashion-MNIST-784, k=10 (labels: ef)'
systems = 'libvdb hnswlib faiss'
plot for [i=1:words(systems)] csv skip 1 \
       using (strcol(1) eq word(systems, i) ? $3 : 1/0):(strcol(1) eq word(systems, i) ? $4 : 1/0) \
       with linespoints lw 2 pt 7 title word(systems, i), \
     for [i=1:words(systems)] csv skip 1 \
       using (strcol(1) eq word(systems, i) ? $3 : 1/0):(strcol(1) eq word(systems, i) ? $4 : 1/0):2 \
       with labels offset 0,0.8 font ',8' notitle
