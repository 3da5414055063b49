/* What the C files of schemabus.runtime._speedups share. */
#ifndef SCHEMABUS_SPEEDUPS_H
#define SCHEMABUS_SPEEDUPS_H

#include <Python.h>

/* Adds the DeliveryCounter type (runtime/_delivery_counter.c) to the module; -1 with an exception set on failure. */
int add_delivery_counter(PyObject *module);
/* Adds the Reports type (runtime/_delivery_reports.c) to the module; -1 with an exception set on failure. */
int add_reports(PyObject *module);
/* Adds the Bins type (runtime/_histogram.c, the metrics' histograms) to the module; -1 with an exception set on failure. */
int add_bins(PyObject *module);

/* The histogram bin of ``v`` among ``n`` ascending upper bounds (bisect_left: the first bound >= v; n when
   above them all): shared by the delivery counter's latencies and the metrics' Bins. */
static inline Py_ssize_t bin_of(const double *bounds, Py_ssize_t n, double v) {
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
