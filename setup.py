"""hc_pipeline: a Dagster code location for healthcare landing-zone data."""

from setuptools import find_packages, setup

setup(
    name="hc_pipeline",
    version="0.1.0",
    description="Dagster assets, Pandera checks and SQL reports for healthcare files landed in S3 or a local folder.",
    packages=find_packages(exclude=["hc_pipeline_tests", "bench"]),
    package_data={"hc_pipeline": ["sql/*.sql"]},
    python_requires=">=3.11,<3.13",
    install_requires=[
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-graphql==1.13.27",
        "dagster-aws==0.29.27",
        "dagster-pandas==0.29.27",
        "dagster-postgres==0.29.27",
        "pandera==0.35.0",
        "boto3==1.43.117",
        "botocore==1.43.117",
        "aiobotocore==3.10.0",
        "s3fs==2026.9.0",
        "fsspec==2026.9.0",
        "universal-pathlib==0.3.10",
        "duckdb==2.0.0",
        "sqlglot==30.30.0",
        "pyarrow==26.0.1",
        "pandas==2.3.3",
        "numpy==2.4.6",
    ],
    extras_require={
        "dev": [
            "pytest==9.2.0",
            "pytest-xdist==3.8.0",  # its xdist_group marks do nothing under pytest 9.2; conftest groups the tests
            "moto[server]==5.2.5",
            "ruff==0.17.6",
            "cfn-lint==1.58.0",
        ],
        # Only for bench/pandera_backends (the pandera backend spike, issue 15 item 3), not for `make test`:
        # pip install -e '.[dev,spike]'
        "spike": ["polars==2.1.0", "ibis-framework[duckdb]==12.0.0"],
    },
    entry_points={"console_scripts": ["hc-pipeline=hc_pipeline.cli:main"]},
)
