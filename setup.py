"Reads everything from settings.ini (nbdev 2 convention); extras are the `extra_*` keys."
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

extras = {k[len("extra_"):]: cfg[k].split() for k in cfg if k.startswith("extra_")}
extras["all"] = sorted({r for k, reqs in extras.items() if k != "dev" for r in reqs})

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    url=cfg["git_url"],
    license="MIT",
    keywords=cfg["keywords"].split(),
    classifiers=["Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License",
                 "Topic :: Scientific/Engineering :: Artificial Intelligence"],
    project_urls={"Source": cfg["git_url"]},
    python_requires=">=" + cfg["min_python"],
    packages=setuptools.find_namespace_packages(include=[cfg["lib_name"], cfg["lib_name"] + ".*"], exclude=["*.__pycache__"]),
    package_data={cfg["lib_name"]: ["data/*", "configs/*.yaml"]},
    install_requires=cfg["requirements"].split(),
    extras_require=extras,
    entry_points={"console_scripts": cfg["console_scripts"].split(), "nbdev": [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"]},
    zip_safe=False,
)
