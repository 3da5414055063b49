/* The delivery reports of asyncio publishes (runtime/kafka/delivery.py), compiled into
 * schemabus.runtime._speedups next to the codecs. The Python twin is speedups.PyReports. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include "_speedups.h"

/* Reports(result_type, on_error, observe=None) holds the delivery reports of records whose futures are
 * asyncio futures. reports.callback(future) is the on_delivery callback of one record: called with
 * (error, message) in whichever thread polls, it first calls observe(error, message) (the metrics),
 * then resolves the future at once when that thread serves its own loop's reports (serve(loop) ...
 * serve(None)), or else keeps (future, error, message) until take() hands the kept reports over,
 * grouped by their futures' loops, for resolve(batch) in each loop's thread. A future is resolved
 * once: not when done already (cancelled); with result_type((topic, partition, offset, timestamp))
 * when acknowledged, else by on_error(future, error, message). The GIL orders every call. */
typedef struct {
    PyObject_HEAD
    PyObject *result_type; /* a tuple subclass of 4 items: DeliveryResult */
    PyObject *on_error;
    PyObject *observe; /* NULL: none */
    PyObject *kept;    /* list of (future, error, message) */
    PyObject *serving_loop; /* NULL unless a thread serves its loop's reports */
    unsigned long serving_thread;
} Reports;

typedef struct {
    PyObject_HEAD
    Reports *reports;
    PyObject *future;
} Callback;

static PyTypeObject CallbackType;
static PyObject *str_done, *str_set_result, *str_get_loop, *str_topic, *str_partition, *str_offset, *str_timestamp;

static int Reports_init(Reports *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"result_type", "on_error", "observe", NULL};
    PyObject *result_type, *on_error, *observe = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:Reports", kwlist, &result_type, &on_error, &observe)) return -1;
    if (!PyType_Check(result_type) || !PyType_IsSubtype((PyTypeObject *)result_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "result_type must be a tuple subclass");
        return -1;
    }
    if (!PyCallable_Check(on_error) || (observe != Py_None && !PyCallable_Check(observe))) {
        PyErr_SetString(PyExc_TypeError, "on_error (and observe, unless None) must be callable");
        return -1;
    }
    PyObject *kept = PyList_New(0);
    if (kept == NULL) return -1;
    Py_XSETREF(self->result_type, Py_NewRef(result_type));
    Py_XSETREF(self->on_error, Py_NewRef(on_error));
    Py_XSETREF(self->observe, observe == Py_None ? NULL : Py_NewRef(observe));
    Py_XSETREF(self->kept, kept);
    Py_CLEAR(self->serving_loop);
    return 0;
}

/* (topic, partition, offset, timestamp) of an acknowledged record as result_type; NULL with an exception. */
static PyObject *new_result(Reports *self, PyObject *message) {
    PyObject *topic = PyObject_CallMethodNoArgs(message, str_topic);
    PyObject *partition = topic ? PyObject_CallMethodNoArgs(message, str_partition) : NULL;
    PyObject *offset = partition ? PyObject_CallMethodNoArgs(message, str_offset) : NULL;
    PyObject *timestamp = offset ? PyObject_CallMethodNoArgs(message, str_timestamp) : NULL;
    PyObject *result = NULL;
    if (timestamp != NULL) {
        if (!PyTuple_Check(timestamp) || PyTuple_GET_SIZE(timestamp) != 2) {
            PyErr_SetString(PyExc_TypeError, "message.timestamp() must be a (type, timestamp) tuple");
        } else {
            PyTypeObject *type = (PyTypeObject *)self->result_type;
            result = type->tp_alloc(type, 4); /* as tuple.__new__(result_type, ...) allocates */
            if (result != NULL) {
                PyTuple_SET_ITEM(result, 0, Py_NewRef(topic));
                PyTuple_SET_ITEM(result, 1, Py_NewRef(partition));
                PyTuple_SET_ITEM(result, 2, Py_NewRef(offset));
                PyTuple_SET_ITEM(result, 3, Py_NewRef(PyTuple_GET_ITEM(timestamp, 1)));
            }
        }
    }
    Py_XDECREF(topic);
    Py_XDECREF(partition);
    Py_XDECREF(offset);
    Py_XDECREF(timestamp);
    return result;
}

/* Resolve one future (unless done already); 0, or -1 with an exception. */
static int resolve_one(Reports *self, PyObject *future, PyObject *error, PyObject *message) {
    PyObject *done = PyObject_CallMethodNoArgs(future, str_done);
    if (done == NULL) return -1;
    int is_done = PyObject_IsTrue(done);
    Py_DECREF(done);
    if (is_done) return is_done < 0 ? -1 : 0;
    PyObject *r;
    if (error != Py_None) {
        r = PyObject_CallFunctionObjArgs(self->on_error, future, error, message, NULL);
    } else {
        PyObject *result = new_result(self, message);
        if (result == NULL) return -1;
        r = PyObject_CallMethodOneArg(future, str_set_result, result);
        Py_DECREF(result);
    }
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *Reports_callback(Reports *self, PyObject *future) {
    if (self->kept == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reports was not initialized");
        return NULL;
    }
    Callback *cb = PyObject_GC_New(Callback, &CallbackType);
    if (cb == NULL) return NULL;
    cb->reports = (Reports *)Py_NewRef(self);
    cb->future = Py_NewRef(future);
    PyObject_GC_Track(cb);
    return (PyObject *)cb;
}

static PyObject *Reports_serve(Reports *self, PyObject *loop) {
    if (loop == Py_None) {
        Py_CLEAR(self->serving_loop);
        self->serving_thread = 0;
    } else {
        Py_XSETREF(self->serving_loop, Py_NewRef(loop));
        self->serving_thread = PyThread_get_thread_ident();
    }
    Py_RETURN_NONE;
}

static PyObject *Reports_take(Reports *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *kept = self->kept;
    PyObject *by_loop = PyDict_New();
    if (by_loop == NULL || kept == NULL) return by_loop;
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) {
        Py_DECREF(by_loop);
        return NULL;
    }
    self->kept = fresh; /* reports that arrive from here on (observe may run Python code) go to the new list */
    PyObject *last_loop = NULL, *last_list = NULL; /* borrowed: most reports share one loop */
    Py_ssize_t n = PyList_GET_SIZE(kept);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *report = PyList_GET_ITEM(kept, i);
        PyObject *loop = PyObject_CallMethodNoArgs(PyTuple_GET_ITEM(report, 0), str_get_loop);
        if (loop == NULL) goto failed;
        PyObject *list = loop == last_loop ? last_list : PyDict_GetItemWithError(by_loop, loop);
        if (list == NULL) {
            if (PyErr_Occurred() || (list = PyList_New(0)) == NULL) {
                Py_DECREF(loop);
                goto failed;
            }
            int set = PyDict_SetItem(by_loop, loop, list);
            Py_DECREF(list); /* the dict holds it */
            if (set < 0) {
                Py_DECREF(loop);
                goto failed;
            }
        }
        last_loop = loop;
        last_list = list;
        Py_DECREF(loop); /* the dict holds it as a key */
        if (PyList_Append(list, report) < 0) goto failed;
    }
    Py_DECREF(kept);
    return by_loop;
failed:
    /* keep every report: put the taken ones back in front of any that arrived meanwhile */
    if (PyList_SetSlice(kept, PyList_GET_SIZE(kept), PyList_GET_SIZE(kept), self->kept) == 0) Py_SETREF(self->kept, kept);
    else Py_DECREF(kept);
    Py_DECREF(by_loop);
    return NULL;
}

static PyObject *Reports_resolve(Reports *self, PyObject *batch) {
    if (!PyList_Check(batch)) {
        PyErr_SetString(PyExc_TypeError, "resolve(batch) takes a list of (future, error, message)");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch); i++) {
        PyObject *report = PyList_GET_ITEM(batch, i);
        if (!PyTuple_Check(report) || PyTuple_GET_SIZE(report) != 3) {
            PyErr_SetString(PyExc_TypeError, "resolve(batch) takes a list of (future, error, message)");
            return NULL;
        }
        Py_INCREF(report);
        int r = resolve_one(self, PyTuple_GET_ITEM(report, 0), PyTuple_GET_ITEM(report, 1), PyTuple_GET_ITEM(report, 2));
        Py_DECREF(report);
        if (r < 0) return NULL;
    }
    Py_RETURN_NONE;
}

static Py_ssize_t Reports_len(Reports *self) {
    return self->kept == NULL ? 0 : PyList_GET_SIZE(self->kept);
}

static int Reports_traverse(Reports *self, visitproc visit, void *arg) {
    Py_VISIT(self->result_type);
    Py_VISIT(self->on_error);
    Py_VISIT(self->observe);
    Py_VISIT(self->kept);
    Py_VISIT(self->serving_loop);
    return 0;
}

static int Reports_clear(Reports *self) {
    Py_CLEAR(self->result_type);
    Py_CLEAR(self->on_error);
    Py_CLEAR(self->observe);
    Py_CLEAR(self->kept);
    Py_CLEAR(self->serving_loop);
    return 0;
}

static void Reports_dealloc(Reports *self) {
    PyObject_GC_UnTrack(self);
    Reports_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Reports_methods[] = {
    {"callback", (PyCFunction)Reports_callback, METH_O, "callback(future): the on_delivery callback of one record."},
    {"serve", (PyCFunction)Reports_serve, METH_O,
     "serve(loop): this thread serves loop's reports (resolved at once) until serve(None)."},
    {"take", (PyCFunction)Reports_take, METH_NOARGS, "take(): the kept reports, {loop: [(future, error, message)]}."},
    {"resolve", (PyCFunction)Reports_resolve, METH_O, "resolve(batch): resolve each report's future, in its loop's thread."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Reports_as_sequence = {
    .sq_length = (lenfunc)Reports_len,
};

static PyTypeObject ReportsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemabus.runtime._speedups.Reports",
    .tp_basicsize = sizeof(Reports),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Reports(result_type, on_error, observe=None): the delivery reports of asyncio publishes.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reports_init,
    .tp_dealloc = (destructor)Reports_dealloc,
    .tp_traverse = (traverseproc)Reports_traverse,
    .tp_clear = (inquiry)Reports_clear,
    .tp_methods = Reports_methods,
    .tp_as_sequence = &Reports_as_sequence,
};

static PyObject *Callback_call(Callback *self, PyObject *args, PyObject *kwds) {
    PyObject *error, *message;
    if ((kwds != NULL && PyDict_GET_SIZE(kwds) != 0) || !PyArg_UnpackTuple(args, "callback", 2, 2, &error, &message)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "callback takes (error, message)");
        return NULL;
    }
    Reports *reports = self->reports;
    if (reports->kept == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reports was not initialized");
        return NULL;
    }
    if (reports->observe != NULL) {
        PyObject *r = PyObject_CallFunctionObjArgs(reports->observe, error, message, NULL);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    if (reports->serving_loop != NULL && reports->serving_thread == PyThread_get_thread_ident()) {
        PyObject *loop = PyObject_CallMethodNoArgs(self->future, str_get_loop);
        if (loop == NULL) return NULL;
        int here = loop == reports->serving_loop;
        Py_DECREF(loop);
        if (here) {
            if (resolve_one(reports, self->future, error, message) < 0) return NULL;
            Py_RETURN_NONE;
        }
    }
    PyObject *report = PyTuple_Pack(3, self->future, error, message);
    if (report == NULL) return NULL;
    int appended = PyList_Append(reports->kept, report);
    Py_DECREF(report);
    if (appended < 0) return NULL;
    Py_RETURN_NONE;
}

static int Callback_traverse(Callback *self, visitproc visit, void *arg) {
    Py_VISIT(self->reports);
    Py_VISIT(self->future);
    return 0;
}

static int Callback_clear(Callback *self) {
    Py_CLEAR(self->reports);
    Py_CLEAR(self->future);
    return 0;
}

static void Callback_dealloc(Callback *self) {
    PyObject_GC_UnTrack(self);
    Callback_clear(self);
    PyObject_GC_Del(self);
}

static PyTypeObject CallbackType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemabus.runtime._speedups.ReportCallback",
    .tp_basicsize = sizeof(Callback),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The on_delivery callback of one record (Reports.callback(future)).",
    .tp_call = (ternaryfunc)Callback_call,
    .tp_dealloc = (destructor)Callback_dealloc,
    .tp_traverse = (traverseproc)Callback_traverse,
    .tp_clear = (inquiry)Callback_clear,
};

int add_reports(PyObject *module) {
    if (str_done == NULL) {
        if ((str_done = PyUnicode_InternFromString("done")) == NULL ||
            (str_set_result = PyUnicode_InternFromString("set_result")) == NULL ||
            (str_get_loop = PyUnicode_InternFromString("get_loop")) == NULL ||
            (str_topic = PyUnicode_InternFromString("topic")) == NULL ||
            (str_partition = PyUnicode_InternFromString("partition")) == NULL ||
            (str_offset = PyUnicode_InternFromString("offset")) == NULL ||
            (str_timestamp = PyUnicode_InternFromString("timestamp")) == NULL)
            return -1;
    }
    if (PyType_Ready(&ReportsType) < 0 || PyType_Ready(&CallbackType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Reports", (PyObject *)&ReportsType);
}
