/* The delivery counter of publish_many (runtime/kafka/delivery.py), compiled into
 * schemabus.runtime._speedups next to the codecs. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_speedups.h"

/* DeliveryCounter(on_error, on_done, latency_bounds=None) is the on_delivery callback of every record
 * of one batch: counter(error, message) calls on_error(error, message) for a failed record, and
 * on_done() once the reports of every record sent and the seal (seal(sent): the batch has sent its
 * last record) have arrived. Reports arrive in whichever thread polls; the GIL makes each call atomic.
 * With latency_bounds (increasing floats), it also counts the acknowledged records and bins each one's
 * message.latency() by the first bound not below it (the metrics of publish_many, read once per batch
 * with latencies(): a Python callback per record would cost more than the rest of the record). */
typedef struct {
    PyObject_HEAD
    PyObject *on_error;
    PyObject *on_done;
    Py_ssize_t arrived;
    Py_ssize_t expected; /* reports + 1 (the seal); -1 until sealed */
    Py_ssize_t nbounds;  /* 0: no latencies */
    double *bounds;
    Py_ssize_t *bins;    /* nbounds + 1: the last is above every bound */
    double latency_sum;
    Py_ssize_t acknowledged;
} DeliveryCounter;

static PyObject *latency_name; /* "latency", interned */

static void counter_free_bins(DeliveryCounter *self) {
    PyMem_Free(self->bounds);
    PyMem_Free(self->bins);
    self->bounds = NULL;
    self->bins = NULL;
    self->nbounds = 0;
}

static int counter_set_bounds(DeliveryCounter *self, PyObject *bounds) {
    PyObject *seq = PySequence_Fast(bounds, "latency_bounds must be a sequence of floats");
    if (seq == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "latency_bounds must not be empty");
        return -1;
    }
    self->bounds = PyMem_Calloc((size_t)n, sizeof(double));
    self->bins = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    if (self->bounds == NULL || self->bins == NULL) {
        Py_DECREF(seq);
        counter_free_bins(self);
        PyErr_NoMemory();
        return -1;
    }
    self->nbounds = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        double b = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if ((b == -1.0 && PyErr_Occurred()) || (i > 0 && !(b > self->bounds[i - 1]))) {
            Py_DECREF(seq);
            counter_free_bins(self);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "latency_bounds must increase");
            return -1;
        }
        self->bounds[i] = b;
    }
    Py_DECREF(seq);
    return 0;
}

static int DeliveryCounter_init(DeliveryCounter *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"on_error", "on_done", "latency_bounds", NULL};
    PyObject *on_error, *on_done, *bounds = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:DeliveryCounter", kwlist, &on_error, &on_done, &bounds))
        return -1;
    if (!PyCallable_Check(on_error) || !PyCallable_Check(on_done)) {
        PyErr_SetString(PyExc_TypeError, "on_error and on_done must be callable");
        return -1;
    }
    counter_free_bins(self);
    if (bounds != Py_None && counter_set_bounds(self, bounds) < 0) return -1;
    Py_XSETREF(self->on_error, Py_NewRef(on_error));
    Py_XSETREF(self->on_done, Py_NewRef(on_done));
    self->arrived = 0;
    self->expected = -1;
    self->latency_sum = 0.0;
    self->acknowledged = 0;
    return 0;
}

/* Count an acknowledged record and bin its latency (None: counted, not binned). 0, or -1 with an exception. */
static int counter_observe(DeliveryCounter *self, PyObject *message) {
    self->acknowledged++;
    PyObject *latency = PyObject_CallMethodNoArgs(message, latency_name);
    if (latency == NULL) return -1;
    if (latency == Py_None) {
        Py_DECREF(latency);
        return 0;
    }
    double v = PyFloat_AsDouble(latency);
    Py_DECREF(latency);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    self->bins[bin_of(self->bounds, self->nbounds, v)]++;
    self->latency_sum += v;
    return 0;
}

static PyObject *counter_arrive(DeliveryCounter *self) {
    if (++self->arrived == self->expected) return PyObject_CallNoArgs(self->on_done);
    Py_RETURN_NONE;
}

static PyObject *DeliveryCounter_call(DeliveryCounter *self, PyObject *args, PyObject *kwds) {
    PyObject *error, *message;
    if (self->on_done == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "DeliveryCounter was not initialized");
        return NULL;
    }
    if (kwds != NULL || !PyArg_UnpackTuple(args, "DeliveryCounter", 2, 2, &error, &message)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "DeliveryCounter takes (error, message)");
        return NULL;
    }
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    if (error != Py_None) {
        PyObject *r = PyObject_CallFunctionObjArgs(self->on_error, error, message, NULL);
        if (r == NULL) PyErr_Fetch(&type, &value, &tb); /* raised below, once the report is counted */
        Py_XDECREF(r);
    } else if (self->nbounds && counter_observe(self, message) < 0) {
        PyErr_Fetch(&type, &value, &tb);
    }
    PyObject *done = counter_arrive(self);
    if (type == NULL) return done;
    if (done == NULL) PyErr_WriteUnraisable(self->on_done);
    Py_XDECREF(done);
    PyErr_Restore(type, value, tb);
    return NULL;
}

static PyObject *DeliveryCounter_seal(DeliveryCounter *self, PyObject *sent) {
    Py_ssize_t n = PyLong_AsSsize_t(sent);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 0 || self->expected != -1) {
        PyErr_SetString(PyExc_ValueError, "seal(sent) takes the number of records sent, once");
        return NULL;
    }
    self->expected = n + 1;
    return counter_arrive(self);
}

static PyObject *DeliveryCounter_latencies(DeliveryCounter *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->nbounds) Py_RETURN_NONE;
    PyObject *bins = PyTuple_New(self->nbounds + 1);
    if (bins == NULL) return NULL;
    for (Py_ssize_t i = 0; i <= self->nbounds; i++) {
        PyObject *n = PyLong_FromSsize_t(self->bins[i]);
        if (n == NULL) {
            Py_DECREF(bins);
            return NULL;
        }
        PyTuple_SET_ITEM(bins, i, n);
    }
    return Py_BuildValue("(Ndn)", bins, self->latency_sum, self->acknowledged);
}

static int DeliveryCounter_traverse(DeliveryCounter *self, visitproc visit, void *arg) {
    Py_VISIT(self->on_error);
    Py_VISIT(self->on_done);
    return 0;
}

static int DeliveryCounter_clear(DeliveryCounter *self) {
    Py_CLEAR(self->on_error);
    Py_CLEAR(self->on_done);
    return 0;
}

static void DeliveryCounter_dealloc(DeliveryCounter *self) {
    PyObject_GC_UnTrack(self);
    DeliveryCounter_clear(self);
    counter_free_bins(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef DeliveryCounter_methods[] = {
    {"seal", (PyCFunction)DeliveryCounter_seal, METH_O,
     "seal(sent): the batch sent its last record; sent records were sent in all."},
    {"latencies", (PyCFunction)DeliveryCounter_latencies, METH_NOARGS,
     "latencies(): (records per latency bucket, sum of latencies, records acknowledged), or None without bounds."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DeliveryCounterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemabus.runtime._speedups.DeliveryCounter",
    .tp_basicsize = sizeof(DeliveryCounter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "DeliveryCounter(on_error, on_done, latency_bounds=None): the on_delivery callback of a batch of records.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)DeliveryCounter_init,
    .tp_call = (ternaryfunc)DeliveryCounter_call,
    .tp_dealloc = (destructor)DeliveryCounter_dealloc,
    .tp_traverse = (traverseproc)DeliveryCounter_traverse,
    .tp_clear = (inquiry)DeliveryCounter_clear,
    .tp_methods = DeliveryCounter_methods,
};

int add_delivery_counter(PyObject *module) {
    if (latency_name == NULL && (latency_name = PyUnicode_InternFromString("latency")) == NULL) return -1;
    if (PyType_Ready(&DeliveryCounterType) < 0) return -1;
    return PyModule_AddObjectRef(module, "DeliveryCounter", (PyObject *)&DeliveryCounterType);
}
