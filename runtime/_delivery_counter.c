/* The delivery counter of publish_many (runtime/kafka/delivery.py), compiled into
 * schemabus.runtime._speedups next to the codecs. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_speedups.h"

/* DeliveryCounter(on_error, on_done) is the on_delivery callback of every record of one batch:
 * counter(error, message) calls on_error(error, message) for a failed record, and on_done() once the
 * reports of every record sent and the seal (seal(sent): the batch has sent its last record) have
 * arrived. Reports arrive in whichever thread polls; the GIL makes each call atomic. */
typedef struct {
    PyObject_HEAD
    PyObject *on_error;
    PyObject *on_done;
    Py_ssize_t arrived;
    Py_ssize_t expected; /* reports + 1 (the seal); -1 until sealed */
} DeliveryCounter;

static int DeliveryCounter_init(DeliveryCounter *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"on_error", "on_done", NULL};
    PyObject *on_error, *on_done;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:DeliveryCounter", kwlist, &on_error, &on_done)) return -1;
    if (!PyCallable_Check(on_error) || !PyCallable_Check(on_done)) {
        PyErr_SetString(PyExc_TypeError, "on_error and on_done must be callable");
        return -1;
    }
    Py_XSETREF(self->on_error, Py_NewRef(on_error));
    Py_XSETREF(self->on_done, Py_NewRef(on_done));
    self->arrived = 0;
    self->expected = -1;
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
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef DeliveryCounter_methods[] = {
    {"seal", (PyCFunction)DeliveryCounter_seal, METH_O,
     "seal(sent): the batch sent its last record; sent records were sent in all."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DeliveryCounterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemabus.runtime._speedups.DeliveryCounter",
    .tp_basicsize = sizeof(DeliveryCounter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "DeliveryCounter(on_error, on_done): the on_delivery callback of a batch of records.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)DeliveryCounter_init,
    .tp_call = (ternaryfunc)DeliveryCounter_call,
    .tp_dealloc = (destructor)DeliveryCounter_dealloc,
    .tp_traverse = (traverseproc)DeliveryCounter_traverse,
    .tp_clear = (inquiry)DeliveryCounter_clear,
    .tp_methods = DeliveryCounter_methods,
};

int add_delivery_counter(PyObject *module) {
    if (PyType_Ready(&DeliveryCounterType) < 0) return -1;
    return PyModule_AddObjectRef(module, "DeliveryCounter", (PyObject *)&DeliveryCounterType);
}
