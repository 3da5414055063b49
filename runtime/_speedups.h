/* What the C files of schemabus.runtime._speedups share. */
#ifndef SCHEMABUS_SPEEDUPS_H
#define SCHEMABUS_SPEEDUPS_H

#include <Python.h>

/* Adds the DeliveryCounter type (runtime/_delivery_counter.c) to the module; -1 with an exception set on failure. */
int add_delivery_counter(PyObject *module);
/* Adds the Bins type (runtime/_histogram.c, the metrics' histograms) to the module; -1 with an exception set on failure. */
int add_bins(PyObject *module);

#endif
