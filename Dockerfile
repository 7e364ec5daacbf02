# The image every step of the Kubeflow pipeline runs in: TFX's own image plus this package,
# installed against the same lock as a laptop. Build and push, then compile with its name:
#   docker build -t gcr.io/PROJECT/movielens-tfx:TAG . && docker push gcr.io/PROJECT/movielens-tfx:TAG
#   movielens-tfx compile kfp --image gcr.io/PROJECT/movielens-tfx:TAG --output pipeline.yaml ...
FROM tensorflow/tfx:1.16.0

WORKDIR /movielens-tfx
COPY requirements.lock setup.py README.md ./
COPY common/ common/
COPY pipeline/ pipeline/
COPY components/ components/
COPY trainer/ trainer/
COPY serving/ serving/
COPY bench/ bench/
# The compiled pipeline names the user code by dotted path (components.transform.
# preprocessing.preprocessing_fn, trainer.task.run_fn), so the package must be importable in
# the image.
RUN pip install --no-cache-dir --constraint requirements.lock . \
    && python -c "import components.transform.preprocessing, trainer.task, trainer.export"
# No ENTRYPOINT: the compiled pipeline gives each step its TFX launcher command.
