// sluice-python.so: CPython inside a worker, for handler type "python". The worker
// dlopens it only for such a lambda, so no other worker (and not the package's other
// binaries) loads libpython. It runs sluice_handler's own code (embedded()): the event,
// the context and the answer are exactly what the exec runner would make of the same
// request; what goes away is the second process, its pipe and two wake-ups per record.
//
// The C interface is private to sluice (worker/embedded_python.hpp is its only caller)
// and no exception or Python error crosses it.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace {

PyObject* g_call = nullptr;    // embedded()'s per-request function
void (*g_log)(const char*, std::size_t) = nullptr;

PyObject* g_answer = nullptr;  // the last answer, alive until the next call
std::string g_error;           // the last failure's text

// sys.stdout and sys.stderr's lines (sluice_handler's _Lines), to the worker's log.
// Text that is not UTF-8 (lone surrogates from bytes decoded with surrogateescape) is
// escaped, as the exec runner's stderr does: a print() never fails the record.
PyObject* log_line(PyObject*, PyObject* line) {
  PyObject* utf8 = PyUnicode_AsEncodedString(line, "utf-8", "backslashreplace");
  if (utf8 == nullptr) return nullptr;
  g_log(PyBytes_AS_STRING(utf8), static_cast<std::size_t>(PyBytes_GET_SIZE(utf8)));
  Py_DECREF(utf8);
  Py_RETURN_NONE;
}
PyMethodDef g_log_def = {"log", log_line, METH_O, nullptr};

// The pending Python exception as one line ("Type: message"), cleared.
// (PyErr_Fetch: Debian bookworm's Python is 3.11.) At start, SystemExit is
// sluice_handler's own "cannot start" (no such function, ...) and gives its message
// alone (`exit_is_message`); raised by a call, it is named like any other exception.
std::string take_error(bool exit_is_message) {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (type == nullptr) return "unknown Python error";
  PyErr_NormalizeException(&type, &value, &tb);
  const bool exit = exit_is_message && PyErr_GivenExceptionMatches(type, PyExc_SystemExit) != 0;
  std::string text = exit ? "" : reinterpret_cast<PyTypeObject*>(type)->tp_name;
  PyObject* what = value == nullptr ? nullptr : exit ? PyObject_GetAttrString(value, "code") : PyObject_Str(value);
  PyObject* s = what == nullptr ? nullptr : PyObject_Str(what);
  if (const char* u = s != nullptr ? PyUnicode_AsUTF8(s) : nullptr; u != nullptr && *u != '\0') {
    text += exit ? u : std::string(": ") + u;
  }
  PyErr_Clear();
  Py_XDECREF(s);
  Py_XDECREF(what);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return text.empty() ? "sluice_handler exited" : text;
}

}  // namespace

extern "C" {

// Starts the interpreter and sluice_handler.embedded(argv), which sends the lines the
// lambda prints to `log`. 0: *out is the ready frame; -1: *out is why not. *out stays
// valid until the next call into this library.
__attribute__((visibility("default"))) int sluice_python_start(const char* const* argv, std::size_t argc,
                                                               void (*log)(const char*, std::size_t), const char** out,
                                                               std::size_t* out_len) {
  g_log = log;
  // The worker loads this module RTLD_LOCAL, and libpython with it; extension modules
  // (mmap, _json, ...) find the interpreter's symbols only in the global scope.
  if (Dl_info info{}; dladdr(reinterpret_cast<void*>(&Py_InitializeEx), &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
  }
  // No signal handlers: SIGTERM and SIGINT stay the worker's.
  Py_InitializeEx(0);
  int rc = -1;
  PyObject* args = PyList_New(0);
  PyObject* module = PyImport_ImportModule("sluice_handler");
  PyObject* result = nullptr;
  if (args != nullptr && module != nullptr) {
    for (std::size_t i = 0; i < argc; ++i) {
      PyObject* a = PyUnicode_DecodeFSDefault(argv[i]);
      if (a == nullptr || PyList_Append(args, a) != 0) {
        Py_XDECREF(a);
        break;
      }
      Py_DECREF(a);
    }
    PyObject* logger = PyErr_Occurred() ? nullptr : PyCFunction_New(&g_log_def, nullptr);
    if (logger != nullptr) result = PyObject_CallMethod(module, "embedded", "OO", args, logger);
    Py_XDECREF(logger);
  }
  char* bytes = nullptr;
  Py_ssize_t len = 0;
  if (result != nullptr && PyTuple_Check(result) && PyTuple_GET_SIZE(result) == 2 &&
      PyBytes_AsStringAndSize(PyTuple_GET_ITEM(result, 0), &bytes, &len) == 0) {
    g_call = PyTuple_GET_ITEM(result, 1);
    Py_INCREF(g_call);
    g_answer = PyTuple_GET_ITEM(result, 0);
    Py_INCREF(g_answer);
    *out = bytes;
    *out_len = static_cast<std::size_t>(len);
    rc = 0;
  } else {
    g_error = take_error(true);
  }
  if (rc != 0) {
    *out = g_error.c_str();
    *out_len = g_error.size();
  }
  Py_XDECREF(result);
  Py_XDECREF(module);
  Py_XDECREF(args);
  // The worker calls from its own thread; threads the lambda starts run between calls.
  PyEval_SaveThread();
  return rc;
}

// One request: its header block and body. 0: *out is the answer frame, or empty for the
// commonest answer, "Status: ok" with no body; -1: *out is the Python error that kept it
// from being answered. Valid until the next call.
__attribute__((visibility("default"))) int sluice_python_call(const char* block, std::size_t block_len, const char* body,
                                                              std::size_t body_len, const char** out, std::size_t* out_len) {
  const PyGILState_STATE gil = PyGILState_Ensure();
  Py_CLEAR(g_answer);
  int rc = -1;
  PyObject* b = PyBytes_FromStringAndSize(block, static_cast<Py_ssize_t>(block_len));
  PyObject* v = PyBytes_FromStringAndSize(body, static_cast<Py_ssize_t>(body_len));
  PyObject* answer = b != nullptr && v != nullptr ? PyObject_CallFunctionObjArgs(g_call, b, v, nullptr) : nullptr;
  char* bytes = nullptr;
  Py_ssize_t len = 0;
  if (answer == Py_None) {
    Py_DECREF(answer);
    *out = nullptr;
    *out_len = 0;
    rc = 0;
  } else if (answer != nullptr && PyBytes_AsStringAndSize(answer, &bytes, &len) == 0) {
    g_answer = answer;
    *out = bytes;
    *out_len = static_cast<std::size_t>(len);
    rc = 0;
  } else {
    Py_XDECREF(answer);
    g_error = take_error(false);
    *out = g_error.c_str();
    *out_len = g_error.size();
  }
  Py_XDECREF(b);
  Py_XDECREF(v);
  PyGILState_Release(gil);
  return rc;
}

}  // extern "C"
