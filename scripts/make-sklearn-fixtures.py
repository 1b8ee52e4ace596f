#!/usr/bin/python3
"""Fits scikit-learn models on its bundled datasets and writes each as ONNX-ML, with its test inputs
and scikit-learn's own predictions, for cloudless's classic-ML oracle tests.

Run with Debian's Python (python3-sklearn, python3-onnx, numpy): /usr/bin/python3 scripts/make-sklearn-fixtures.py OUT_DIR
skl2onnx is not packaged in Debian, so the ONNX-ML nodes are written here from the fitted estimators'
attributes (ai.onnx.ml opset 3, ai.onnx opset 13). Per model, OUT_DIR/<name>/ holds:
  model.onnx     the model (input "X" float32 [N, F]; outputs "label" int64 [N] and "scores" float32 [N, K],
                 or "variable" float32 [N, 1] for regressors)
  X_test.npy     float32 test inputs
  labels.npy     scikit-learn's predicted labels (int64; classifiers)
  scores.npy     scikit-learn's probabilities / decision values / regression outputs (float64)
  meta.json      what the scores are, and the training range of every feature (for int16 features)
OUT_DIR/manifest.json lists the models. Everything is deterministic (fixed seeds).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn import datasets, ensemble, linear_model, preprocessing, svm, tree
from sklearn.model_selection import train_test_split

ML = 'ai.onnx.ml'


def f32_floor(t):
    """The largest float32 <= t: for a float32 x, x <= t exactly when x <= f32_floor(t)."""
    f = np.float32(t)
    if float(f) > t:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def load(name):
    loader = {'iris': datasets.load_iris, 'wine': datasets.load_wine, 'breast_cancer': datasets.load_breast_cancer,
              'digits': datasets.load_digits, 'diabetes': datasets.load_diabetes}[name]
    X, y = loader(return_X_y=True)
    # Train on exactly the float32 values the test feeds, so float32 inputs mean the same to every runtime.
    X = X.astype(np.float32).astype(np.float64)
    return train_test_split(X, y, test_size=0.3, random_state=0)


def model_proto(nodes, n_features, outputs, name, extra_meta=None):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info('X', TensorProto.FLOAT, [None, n_features])], outputs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid(ML, 3)],
                          producer_name='cloudless make-sklearn-fixtures')
    m.ir_version = 8
    if extra_meta:
        helper.set_model_props(m, extra_meta)
    onnx.checker.check_model(m)
    return m


def clf_outputs(n_scores):
    return [helper.make_tensor_value_info('label', TensorProto.INT64, [None]),
            helper.make_tensor_value_info('scores', TensorProto.FLOAT, [None, n_scores])]


def reg_outputs():
    return [helper.make_tensor_value_info('variable', TensorProto.FLOAT, [None, 1])]


def tree_nodes(trees):
    """Node attributes of sklearn tree_ objects; returns (attrs, leaves) with leaves = [(tree, node, sklearn tree_)]."""
    a = {k: [] for k in ['nodes_treeids', 'nodes_nodeids', 'nodes_featureids', 'nodes_values', 'nodes_modes',
                         'nodes_truenodeids', 'nodes_falsenodeids', 'nodes_missing_value_tracks_true', 'nodes_hitrates']}
    leaves = []
    for t, tr in enumerate(trees):
        for n in range(tr.node_count):
            leaf = tr.children_left[n] == -1
            a['nodes_treeids'].append(t)
            a['nodes_nodeids'].append(n)
            a['nodes_featureids'].append(0 if leaf else int(tr.feature[n]))
            a['nodes_values'].append(0.0 if leaf else f32_floor(tr.threshold[n]))
            a['nodes_modes'].append('LEAF' if leaf else 'BRANCH_LEQ')
            a['nodes_truenodeids'].append(0 if leaf else int(tr.children_left[n]))
            a['nodes_falsenodeids'].append(0 if leaf else int(tr.children_right[n]))
            a['nodes_missing_value_tracks_true'].append(0)
            a['nodes_hitrates'].append(1.0)
            if leaf:
                leaves.append((t, n, tr))
    return a, leaves


def tree_classifier(trees, classes, weight_of, post='NONE', base=None, name='trees'):
    """weight_of(tree_, node) -> per-class weights of that leaf. With two classes only the positive class's
    weight is written, under class id 0: onnxruntime then reads the one score as the positive class's
    (its "binary case"); with weights on both ids, or on id 1 alone, it labels and scores two-class trees
    unlike scikit-learn."""
    a, leaves = tree_nodes(trees)
    ct, cn, ci, cw = [], [], [], []
    binary = len(classes) == 2
    for t, n, tr in leaves:
        for k, w in enumerate(weight_of(t, tr, n)):
            # Two classes: only class 1 carries weights (as skl2onnx writes them); class 0's score follows from it.
            if binary and k == 0:
                continue
            ct.append(t); cn.append(n); ci.append(0 if binary else k); cw.append(float(w))
    attrs = dict(a, class_treeids=ct, class_nodeids=cn, class_ids=ci, class_weights=cw,
                 classlabels_int64s=[int(c) for c in classes], post_transform=post)
    if base is not None:
        attrs['base_values'] = [float(b) for b in base]
    return helper.make_node('TreeEnsembleClassifier', ['X'], ['label', 'scores'], domain=ML, name=name, **attrs)


def tree_regressor(trees, weight_of, aggregate='SUM', base=None, name='trees'):
    a, leaves = tree_nodes(trees)
    tt, tn, ti, tw = [], [], [], []
    for t, n, tr in leaves:
        tt.append(t); tn.append(n); ti.append(0); tw.append(float(weight_of(t, tr, n)))
    attrs = dict(a, target_treeids=tt, target_nodeids=tn, target_ids=ti, target_weights=tw, n_targets=1,
                 aggregate_function=aggregate, post_transform='NONE')
    if base is not None:
        attrs['base_values'] = [float(b) for b in base]
    return helper.make_node('TreeEnsembleRegressor', ['X'], ['variable'], domain=ML, name=name, **attrs)


def proportions(tr, n):
    v = tr.value[n][0]
    return v / v.sum()


def linear_classifier(coef, intercept, classes, post, inp='X', name='linear'):
    """coef [K, F] with one row per class (binary models come here already as two rows)."""
    return helper.make_node('LinearClassifier', [inp], ['label', 'scores'], domain=ML, name=name,
                            coefficients=[float(c) for c in np.asarray(coef).ravel()],
                            intercepts=[float(b) for b in np.asarray(intercept).ravel()],
                            classlabels_ints=[int(c) for c in classes], post_transform=post, multi_class=0)


def binary_rows(coef, intercept):
    """sklearn's one binary row w (decision w·x + b > 0 → class 1) as the two rows -w, w."""
    coef = np.asarray(coef).reshape(1, -1)
    intercept = np.asarray(intercept).reshape(1)
    return np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])


def svm_classifier(m, classes, name='svm'):
    kernel = m.kernel.upper()
    gamma = float(m._gamma)
    return helper.make_node('SVMClassifier', ['X'], ['label', 'scores'], domain=ML, name=name,
                            kernel_type=kernel, kernel_params=[gamma, float(m.coef0), float(m.degree)],
                            support_vectors=[float(v) for v in m.support_vectors_.ravel()],
                            vectors_per_class=[int(v) for v in m.n_support_],
                            # libsvm's own signs (sklearn's public dual_coef_/intercept_ flip them for two classes).
                            coefficients=[float(v) for v in m._dual_coef_.ravel()],
                            rho=[float(v) for v in m._intercept_.ravel()],
                            classlabels_ints=[int(c) for c in classes], post_transform='NONE')


def svm_regressor(m, name='svr'):
    return helper.make_node('SVMRegressor', ['X'], ['variable'], domain=ML, name=name,
                            kernel_type=m.kernel.upper(), kernel_params=[float(m._gamma), float(m.coef0), float(m.degree)],
                            support_vectors=[float(v) for v in m.support_vectors_.ravel()], n_supports=int(len(m.support_)),
                            coefficients=[float(v) for v in m._dual_coef_.ravel()],
                            rho=[float(v) for v in m._intercept_.ravel()], post_transform='NONE')


def main(out):
    os.makedirs(out, exist_ok=True)
    manifest = []

    def save(name, dataset, nodes, outputs, X_train, X_test, labels, scores, what, n_features):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        rng = [[float(lo), float(hi)] for lo, hi in zip(X_train.min(axis=0), X_train.max(axis=0))]
        meta = {'name': name, 'dataset': dataset, 'scores': what, 'feature_range': rng,
                'task': 'regression' if labels is None else 'classification'}
        m = model_proto(nodes, n_features, outputs, name, {'cloudless.feature_range': json.dumps(rng)})
        onnx.save(m, os.path.join(d, 'model.onnx'))
        np.save(os.path.join(d, 'X_test.npy'), X_test.astype(np.float32))
        if labels is not None:
            np.save(os.path.join(d, 'labels.npy'), np.asarray(labels).astype(np.int64))
        np.save(os.path.join(d, 'scores.npy'), np.ascontiguousarray(np.asarray(scores, dtype=np.float64).reshape(len(X_test), -1)))
        with open(os.path.join(d, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
        manifest.append(meta)
        print(f'make-sklearn-fixtures: {name} ({dataset}, {len(X_test)} test samples)')

    # ---- trees
    for ds in ['iris', 'wine', 'breast_cancer', 'digits']:
        Xtr, Xte, ytr, yte = load(ds)
        F = Xtr.shape[1]
        dt = tree.DecisionTreeClassifier(random_state=0, max_depth=8).fit(Xtr, ytr)
        node = tree_classifier([dt.tree_], dt.classes_, lambda t, tr, n: proportions(tr, n))
        save(f'dt_clf_{ds}', ds, [node], clf_outputs(len(dt.classes_)), Xtr, Xte, dt.predict(Xte), dt.predict_proba(Xte), 'probabilities', F)

        rf = ensemble.RandomForestClassifier(n_estimators=10, random_state=0).fit(Xtr, ytr)
        k = len(rf.estimators_)
        node = tree_classifier([e.tree_ for e in rf.estimators_], rf.classes_, lambda t, tr, n: proportions(tr, n) / k)
        save(f'rf_clf_{ds}', ds, [node], clf_outputs(len(rf.classes_)), Xtr, Xte, rf.predict(Xte), rf.predict_proba(Xte), 'probabilities', F)

    for ds in ['wine', 'breast_cancer']:
        Xtr, Xte, ytr, yte = load(ds)
        F = Xtr.shape[1]
        et = ensemble.ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0).fit(Xtr, ytr)
        k = len(et.estimators_)
        node = tree_classifier([e.tree_ for e in et.estimators_], et.classes_, lambda t, tr, n: proportions(tr, n) / k)
        save(f'et_clf_{ds}', ds, [node], clf_outputs(len(et.classes_)), Xtr, Xte, et.predict(Xte), et.predict_proba(Xte), 'probabilities', F)

    # Gradient boosting: binary (one log-odds score, LOGISTIC) and multiclass (SOFTMAX).
    for ds in ['breast_cancer', 'iris']:
        Xtr, Xte, ytr, yte = load(ds)
        F = Xtr.shape[1]
        gb = ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(Xtr, ytr)
        lr = gb.learning_rate
        stages = gb.estimators_  # [n_stages, K]
        init = gb._raw_predict_init(Xtr[:1])[0]
        C = len(gb.classes_)
        if C == 2:
            trees = [stages[s, 0].tree_ for s in range(stages.shape[0])]
            # One score F (the raw log-odds, base_values [init] as onnxruntime reads it); LOGISTIC gives [sigmoid(-F), sigmoid(F)].
            node = tree_classifier(trees, gb.classes_, lambda t, tr, n: [0.0, lr * tr.value[n][0][0]],
                                   post='LOGISTIC', base=[init[0]])
        else:
            trees, owner = [], []
            for s in range(stages.shape[0]):
                for c in range(C):
                    trees.append(stages[s, c].tree_)
                    owner.append(c)
            node = tree_classifier(trees, gb.classes_,
                                   lambda t, tr, n: [lr * tr.value[n][0][0] if c == owner[t] else 0.0 for c in range(C)],
                                   post='SOFTMAX', base=list(init))
        save(f'gb_clf_{ds}', ds, [node], clf_outputs(C), Xtr, Xte, gb.predict(Xte), gb.predict_proba(Xte), 'probabilities', F)

    # Regressors on diabetes.
    Xtr, Xte, ytr, yte = load('diabetes')
    F = Xtr.shape[1]
    dtr = tree.DecisionTreeRegressor(max_depth=6, random_state=0).fit(Xtr, ytr)
    node = tree_regressor([dtr.tree_], lambda t, tr, n: tr.value[n][0][0])
    save('dt_reg_diabetes', 'diabetes', [node], reg_outputs(), Xtr, Xte, None, dtr.predict(Xte), 'regression', F)
    rfr = ensemble.RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0).fit(Xtr, ytr)
    node = tree_regressor([e.tree_ for e in rfr.estimators_], lambda t, tr, n: tr.value[n][0][0], aggregate='AVERAGE')
    save('rf_reg_diabetes', 'diabetes', [node], reg_outputs(), Xtr, Xte, None, rfr.predict(Xte), 'regression', F)
    gbr = ensemble.GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(Xtr, ytr)
    init = gbr._raw_predict_init(Xtr[:1])[0]
    node = tree_regressor([gbr.estimators_[s, 0].tree_ for s in range(gbr.estimators_.shape[0])],
                          lambda t, tr, n: gbr.learning_rate * tr.value[n][0][0], base=[init[0]])
    save('gb_reg_diabetes', 'diabetes', [node], reg_outputs(), Xtr, Xte, None, gbr.predict(Xte), 'regression', F)
    lin = linear_model.LinearRegression().fit(Xtr, ytr)
    node = helper.make_node('LinearRegressor', ['X'], ['variable'], domain=ML, name='linear',
                            coefficients=[float(c) for c in lin.coef_], intercepts=[float(lin.intercept_)], targets=1)
    save('linreg_diabetes', 'diabetes', [node], reg_outputs(), Xtr, Xte, None, lin.predict(Xte), 'regression', F)
    svr = svm.SVR(kernel='rbf', C=100.0, gamma='scale').fit(Xtr, ytr)
    save('svr_rbf_diabetes', 'diabetes', [svm_regressor(svr)], reg_outputs(), Xtr, Xte, None, svr.predict(Xte), 'regression', F)

    # Linear classifiers.
    Xtr, Xte, ytr, yte = load('breast_cancer')
    F = Xtr.shape[1]
    sc = preprocessing.StandardScaler().fit(Xtr)
    Str, Ste = sc.transform(Xtr), sc.transform(Xte)
    scaler = helper.make_node('Scaler', ['X'], ['Xs'], domain=ML, name='scaler',
                              offset=[float(v) for v in sc.mean_], scale=[float(1 / v) for v in sc.scale_])
    lr = linear_model.LogisticRegression(max_iter=5000).fit(Str, ytr)
    coef, b = binary_rows(lr.coef_, lr.intercept_)
    node = linear_classifier(coef, b, lr.classes_, 'LOGISTIC', inp='Xs')
    save('logreg_bin_breast_cancer', 'breast_cancer', [scaler, node], clf_outputs(2), Xtr, Xte,
         lr.predict(Ste), lr.predict_proba(Ste), 'probabilities', F)
    lsvc = svm.LinearSVC(C=0.5, max_iter=20000, random_state=0).fit(Str, ytr)
    coef, b = binary_rows(lsvc.coef_, lsvc.intercept_)
    node = linear_classifier(coef, b, lsvc.classes_, 'NONE', inp='Xs')
    dec = lsvc.decision_function(Ste)
    save('linsvc_bin_breast_cancer', 'breast_cancer', [scaler, node], clf_outputs(2), Xtr, Xte,
         lsvc.predict(Ste), np.stack([-dec, dec], axis=1), 'decision', F)

    for ds in ['iris', 'wine', 'digits']:
        Xtr, Xte, ytr, yte = load(ds)
        F = Xtr.shape[1]
        sc = preprocessing.StandardScaler().fit(Xtr)
        Str, Ste = sc.transform(Xtr), sc.transform(Xte)
        # Debian's sklearn: features constant in training have scale_ 1 (not 0), so 1/scale_ is finite.
        scaler = helper.make_node('Scaler', ['X'], ['Xs'], domain=ML, name='scaler',
                                  offset=[float(v) for v in sc.mean_], scale=[float(1 / v) for v in sc.scale_])
        lr = linear_model.LogisticRegression(max_iter=5000, multi_class='multinomial').fit(Str, ytr)
        node = linear_classifier(lr.coef_, lr.intercept_, lr.classes_, 'SOFTMAX', inp='Xs')
        save(f'logreg_multi_{ds}', ds, [scaler, node], clf_outputs(len(lr.classes_)), Xtr, Xte,
             lr.predict(Ste), lr.predict_proba(Ste), 'probabilities', F)
        lsvc = svm.LinearSVC(C=0.5, max_iter=20000, random_state=0).fit(Str, ytr)
        node = linear_classifier(lsvc.coef_, lsvc.intercept_, lsvc.classes_, 'NONE', inp='Xs')
        save(f'linsvc_{ds}', ds, [scaler, node], clf_outputs(len(lsvc.classes_)), Xtr, Xte,
             lsvc.predict(Ste), lsvc.decision_function(Ste), 'decision', F)

    # Normalizer pipeline: L2-normalize, then multinomial logistic regression.
    Xtr, Xte, ytr, yte = load('wine')
    F = Xtr.shape[1]
    nm = preprocessing.Normalizer(norm='l2').fit(Xtr)
    lr = linear_model.LogisticRegression(max_iter=5000, C=1000.0).fit(nm.transform(Xtr), ytr)
    norm = helper.make_node('Normalizer', ['X'], ['Xn'], domain=ML, name='normalizer', norm='L2')
    node = linear_classifier(lr.coef_, lr.intercept_, lr.classes_, 'SOFTMAX', inp='Xn')
    save('normalizer_logreg_wine', 'wine', [norm, node], clf_outputs(3), Xtr, Xte,
         lr.predict(nm.transform(Xte)), lr.predict_proba(nm.transform(Xte)), 'probabilities', F)

    # Kernel SVMs (probability off): labels by one-vs-one votes; scores are the pairwise decision values.
    for ds, kernels in [('iris', ['linear', 'poly', 'rbf', 'sigmoid']), ('breast_cancer', ['linear', 'rbf']), ('wine', ['rbf'])]:
        Xtr, Xte, ytr, yte = load(ds)
        F = Xtr.shape[1]
        sc = preprocessing.StandardScaler().fit(Xtr)
        Str, Ste = sc.transform(Xtr), sc.transform(Xte)
        scaler = helper.make_node('Scaler', ['X'], ['Xs'], domain=ML, name='scaler',
                                  offset=[float(v) for v in sc.mean_], scale=[float(1 / v) for v in sc.scale_])
        for kern in kernels:
            m = svm.SVC(kernel=kern, C=1.0, gamma='scale', degree=3, coef0=0.5 if kern in ('poly', 'sigmoid') else 0.0,
                        decision_function_shape='ovo').fit(Str, ytr)
            node = svm_classifier(m, m.classes_)
            node.input[0] = 'Xs'
            C = len(m.classes_)
            dec = m.decision_function(Ste)
            if C == 2:
                # libsvm's value d (> 0 → first class) is -decision_function; onnxruntime writes [-d, d].
                scores = np.stack([dec, -dec], axis=1)
            else:
                scores = dec
            save(f'svc_{kern}_{ds}', ds, [scaler, node], clf_outputs(2 if C == 2 else C * (C - 1) // 2), Xtr, Xte,
                 m.predict(Ste), scores, 'decision', F)

    # The emlearn comparison: 10 trees of depth 10 (emlearn reports 2.0–4.9 KB of flash for this size).
    Xtr, Xte, ytr, yte = load('digits')
    rf = ensemble.RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0).fit(Xtr, ytr)
    node = tree_classifier([e.tree_ for e in rf.estimators_], rf.classes_, lambda t, tr, n: proportions(tr, n) / 10)
    save('rf10_depth10_digits', 'digits', [node], clf_outputs(10), Xtr, Xte, rf.predict(Xte), rf.predict_proba(Xte), 'probabilities', Xtr.shape[1])
    Xtr, Xte, ytr, yte = load('breast_cancer')
    rf = ensemble.RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0).fit(Xtr, ytr)
    node = tree_classifier([e.tree_ for e in rf.estimators_], rf.classes_, lambda t, tr, n: proportions(tr, n) / 10)
    save('rf10_depth10_breast_cancer', 'breast_cancer', [node], clf_outputs(2), Xtr, Xte, rf.predict(Xte), rf.predict_proba(Xte), 'probabilities', Xtr.shape[1])

    # skl2onnx's default layout: probabilities wrapped by ZipMap into a sequence of maps.
    Xtr, Xte, ytr, yte = load('iris')
    rf = ensemble.RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(Xtr, ytr)
    node = tree_classifier([e.tree_ for e in rf.estimators_], rf.classes_, lambda t, tr, n: proportions(tr, n) / 5)
    node.output[1] = 'probabilities'
    zipmap = helper.make_node('ZipMap', ['probabilities'], ['scores'], domain=ML, name='zipmap',
                              classlabels_int64s=[int(c) for c in rf.classes_])
    map_type = onnx.TypeProto()
    map_type.map_type.key_type = TensorProto.INT64
    map_type.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    seq_map = helper.make_sequence_type_proto(map_type)
    outs = [helper.make_tensor_value_info('label', TensorProto.INT64, [None]), helper.make_value_info('scores', seq_map)]
    save('zipmap_rf_iris', 'iris', [node, zipmap], outs, Xtr, Xte, rf.predict(Xte), rf.predict_proba(Xte), 'probabilities', Xtr.shape[1])

    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump({'sklearn': __import__('sklearn').__version__, 'onnx': onnx.__version__, 'models': manifest}, f, indent=1)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: /usr/bin/python3 scripts/make-sklearn-fixtures.py OUT_DIR')
    main(sys.argv[1])
