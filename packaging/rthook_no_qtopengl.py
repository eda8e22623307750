"""PyInstaller runtime hook: a stand-in for ``PySide6.QtOpenGL`` (8.6 MB), left out of
the bundle (packaging/etcdmon.spec).

pyqtgraph imports ``PySide6.QtOpenGL`` when it loads (PlotCurveItem, PColorMeshItem,
Qt/OpenGLHelpers) but touches it only to draw through OpenGL, which it does only with
``useOpenGL`` / ``enableExperimental`` set; etcdmon sets neither (pyqtgraph's defaults:
off). So the import finds this empty module, and any use of it fails with an
AttributeError that says why. The real module wins whenever it is in the bundle: this
finder comes last on ``sys.meta_path``. ``PySide6.QtOpenGLWidgets`` (130 kB) stays:
pyqtgraph subclasses its QOpenGLWidget when it loads."""


def _install() -> None:
    import importlib.machinery
    import sys
    import types

    name = "PySide6.QtOpenGL"

    class _Missing(types.ModuleType):
        def __getattr__(self, attr: str) -> object:
            raise AttributeError(
                f"{name}.{attr}: {name} is left out of this bundle (pyqtgraph's OpenGL "
                "drawing, useOpenGL, is not used by etcdmon)"
            )

    class _Finder:  # a meta path finder and its loader
        def find_spec(
            self, fullname: str, path: object = None, target: object = None
        ) -> importlib.machinery.ModuleSpec | None:
            if fullname != name:
                return None
            return importlib.machinery.ModuleSpec(fullname, self)

        def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
            return _Missing(spec.name)

        def exec_module(self, module: types.ModuleType) -> None:
            pass

    sys.meta_path.append(_Finder())


_install()
del _install
