/* The bucket counts of schemabus.runtime.metrics' histograms, compiled into
 * schemabus.runtime._speedups next to the codecs: an observation is one C call (a handler's duration
 * is observed per record, where a Python-level bisect and two attribute writes would cost a tenth of
 * a fast handler's record). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_speedups.h"

/* Bins(bounds): counts of observations per bucket, the first bound not below each value (Prometheus'
 * "le"), the last bucket above every bound; and their sum. observe(value); observe_since(started):
 * observe time.perf_counter() - started; add(bins, total): observations binned elsewhere; counts();
 * sum; bounds. One thread at a time observes in practice; the GIL makes each call atomic anyway. */
typedef struct {
    PyObject_HEAD
    PyObject *bounds_tuple;
    Py_ssize_t n;
    double *bounds;
    unsigned long long *bins; /* n + 1 */
    double sum;
} Bins;

static PyObject *perf_counter; /* time.perf_counter */

static void bins_free(Bins *self) {
    PyMem_Free(self->bounds);
    PyMem_Free(self->bins);
    self->bounds = NULL;
    self->bins = NULL;
    self->n = 0;
}

static int Bins_init(Bins *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"bounds", NULL};
    PyObject *bounds;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Bins", kwlist, &bounds)) return -1;
    PyObject *tuple = PySequence_Tuple(bounds);
    if (tuple == NULL) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if (n < 1) {
        Py_DECREF(tuple);
        PyErr_SetString(PyExc_ValueError, "histogram bounds must be increasing and not empty");
        return -1;
    }
    bins_free(self);
    self->bounds = PyMem_Calloc((size_t)n, sizeof(double));
    self->bins = PyMem_Calloc((size_t)n + 1, sizeof(unsigned long long));
    if (self->bounds == NULL || self->bins == NULL) {
        Py_DECREF(tuple);
        bins_free(self);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        double b = PyFloat_AsDouble(PyTuple_GET_ITEM(tuple, i));
        if ((b == -1.0 && PyErr_Occurred()) || (i > 0 && !(b > self->bounds[i - 1]))) {
            Py_DECREF(tuple);
            bins_free(self);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "histogram bounds must be increasing and not empty");
            return -1;
        }
        self->bounds[i] = b;
    }
    self->n = n;
    self->sum = 0.0;
    Py_XSETREF(self->bounds_tuple, tuple);
    return 0;
}

static int bins_ready(Bins *self) {
    if (self->bins != NULL) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Bins was not initialized");
    return -1;
}

static void bins_observe(Bins *self, double v) {
    self->bins[bin_of(self->bounds, self->n, v)]++;
    self->sum += v;
}

static PyObject *Bins_observe(Bins *self, PyObject *value) {
    if (bins_ready(self) < 0) return NULL;
    double v = PyFloat_AsDouble(value);
    if (v == -1.0 && PyErr_Occurred()) return NULL;
    bins_observe(self, v);
    Py_RETURN_NONE;
}

static PyObject *Bins_observe_since(Bins *self, PyObject *started) {
    if (bins_ready(self) < 0) return NULL;
    double start = PyFloat_AsDouble(started);
    if (start == -1.0 && PyErr_Occurred()) return NULL;
    PyObject *now = PyObject_CallNoArgs(perf_counter);
    if (now == NULL) return NULL;
    double end = PyFloat_AsDouble(now);
    Py_DECREF(now);
    if (end == -1.0 && PyErr_Occurred()) return NULL;
    bins_observe(self, end - start);
    Py_RETURN_NONE;
}

static PyObject *Bins_add(Bins *self, PyObject *args) {
    PyObject *bins;
    double total;
    if (bins_ready(self) < 0 || !PyArg_ParseTuple(args, "Od:add", &bins, &total)) return NULL;
    PyObject *seq = PySequence_Fast(bins, "bins must be a sequence of counts");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n != self->n + 1) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "%zd bins for a histogram of %zd", n, self->n + 1);
    }
    unsigned long long *add = PyMem_Calloc((size_t)n, sizeof(unsigned long long));
    if (add == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) { /* all read before any is added: a bad count adds nothing */
        add[i] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (PyErr_Occurred()) {
            PyMem_Free(add);
            Py_DECREF(seq);
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) self->bins[i] += add[i];
    self->sum += total;
    PyMem_Free(add);
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

static PyObject *Bins_counts(Bins *self, PyObject *Py_UNUSED(ignored)) {
    if (bins_ready(self) < 0) return NULL;
    PyObject *out = PyTuple_New(self->n + 1);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i <= self->n; i++) {
        PyObject *c = PyLong_FromUnsignedLongLong(self->bins[i]);
        if (c == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, c);
    }
    return out;
}

static PyObject *Bins_get_sum(Bins *self, void *Py_UNUSED(closure)) { return PyFloat_FromDouble(self->sum); }

static PyObject *Bins_get_bounds(Bins *self, void *Py_UNUSED(closure)) {
    if (bins_ready(self) < 0) return NULL;
    return Py_NewRef(self->bounds_tuple);
}

static int Bins_traverse(Bins *self, visitproc visit, void *arg) {
    Py_VISIT(self->bounds_tuple);
    return 0;
}

static int Bins_clear(Bins *self) {
    Py_CLEAR(self->bounds_tuple);
    return 0;
}

static void Bins_dealloc(Bins *self) {
    PyObject_GC_UnTrack(self);
    Bins_clear(self);
    bins_free(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Bins_methods[] = {
    {"observe", (PyCFunction)Bins_observe, METH_O, "observe(value): count one observation."},
    {"observe_since", (PyCFunction)Bins_observe_since, METH_O,
     "observe_since(started): observe time.perf_counter() - started."},
    {"add", (PyCFunction)Bins_add, METH_VARARGS, "add(bins, total): observations binned by these bounds elsewhere."},
    {"counts", (PyCFunction)Bins_counts, METH_NOARGS, "counts(): observations per bucket, the last above every bound."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Bins_getset[] = {
    {"sum", (getter)Bins_get_sum, NULL, "the sum of the observations", NULL},
    {"bounds", (getter)Bins_get_bounds, NULL, "the buckets' upper bounds", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject BinsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemabus.runtime._speedups.Bins",
    .tp_basicsize = sizeof(Bins),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Bins(bounds): the bucket counts and sum of a histogram.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Bins_init,
    .tp_dealloc = (destructor)Bins_dealloc,
    .tp_traverse = (traverseproc)Bins_traverse,
    .tp_clear = (inquiry)Bins_clear,
    .tp_methods = Bins_methods,
    .tp_getset = Bins_getset,
};

int add_bins(PyObject *module) {
    if (perf_counter == NULL) {
        PyObject *time = PyImport_ImportModule("time");
        if (time == NULL) return -1;
        perf_counter = PyObject_GetAttrString(time, "perf_counter");
        Py_DECREF(time);
        if (perf_counter == NULL) return -1;
    }
    if (PyType_Ready(&BinsType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Bins", (PyObject *)&BinsType);
}
